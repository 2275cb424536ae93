"""Signing in, roles, and passwords."""
