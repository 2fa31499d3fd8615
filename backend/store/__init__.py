"""Tables, migrations and every database query. Routes and services never build SQL."""
