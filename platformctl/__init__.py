"""Operator and developer commands: migrate databases, run the embedded stack, load the demo data."""
