"""Imports: read uploaded spreadsheets (reader), parse cells (values), find and map the table (headers)."""
