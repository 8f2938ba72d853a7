"""Plain async factories, one module per package."""
