"""Shared kernel imported by the four services: settings, money, events, database, outbox, consumer,
errors and observability. Nothing in here knows about a particular service's domain."""
