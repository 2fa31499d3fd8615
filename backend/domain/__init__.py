"""Pure business rules: no web framework, no ORM, no I/O (enforced by ruff and a test)."""
