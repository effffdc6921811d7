"""Backprop Lens web app: FastAPI + HTMX pages and the JSON API over the NumPy engine.

Create the app with :func:`app.main.create_app` (uvicorn: ``--factory``).
"""
