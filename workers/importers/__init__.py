"""Importers of official incident data (CSV with a mapping, BAAC, GeoJSON) and of historical
reports. Every import streams, validates before it commits, and upserts on (source, external id).
"""
