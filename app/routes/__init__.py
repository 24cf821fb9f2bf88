"""Routers, one per area, each declared with its access class in app/routes/__init__.py."""
