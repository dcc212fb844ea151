"""Operator views across the settlement domains (the transaction trail)."""
