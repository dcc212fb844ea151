"""Enrollment: persons, households, enrollment years, contributions, identity categories (参保与缴费)."""
