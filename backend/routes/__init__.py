"""HTTP, one module per audience. Thin: parse, authorise, call a service, answer."""
