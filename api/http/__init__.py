"""HTTP plumbing shared by the routes and the fast lanes: auth dependencies, problem
JSON, idempotency, metrics, the JSON route class, the fast lanes and the docs pages."""
