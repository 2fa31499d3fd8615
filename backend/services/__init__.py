"""Use cases: load state, ask the domain, append events and outbox rows in one transaction."""
