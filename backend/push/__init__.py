"""Notifications: the outbox worker and what it delivers."""
