"""Grant claims to funders, grant conditions, match funding and virements (issue 14)."""
