"""Funding years, funding streams, allocations and budget lines."""
