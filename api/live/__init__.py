"""The live-session websocket edge: the ASGI endpoint and uvicorn's protocol, leaner."""
