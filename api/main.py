"""The ASGI app uvicorn serves (``api.main:app``), configured from the environment."""

from api.app import create_app

app = create_app()
