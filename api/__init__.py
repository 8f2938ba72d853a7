"""The outer floor: the FastAPI app, routers, the CLI and the demo."""
