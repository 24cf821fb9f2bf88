"""Placeholder: the job manager and scheduler land with the jobs issue."""

from contextlib import asynccontextmanager


@asynccontextmanager
async def background_lifespan(app):
    yield
