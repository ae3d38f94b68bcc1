"""The HTTP API (FastAPI, under /api/v1). ``main.create_app`` wires it; one router per resource."""
