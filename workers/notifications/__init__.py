"""Telling residents and subscriber systems what happened to a report: the sending side.

``mail`` writes the e-mails (FR/EN, plain text and HTML) and carries them (SMTP, or .eml files
in development), ``webhooks`` signs and POSTs, ``delivery`` runs the never-twice book of
``backend.services.notifications`` around both, and ``settings`` reads the configuration.
"""
