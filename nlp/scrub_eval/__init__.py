"""Labelled sentences and span-level evaluation of the personal-data scrubber."""
