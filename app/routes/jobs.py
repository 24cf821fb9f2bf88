"""Placeholder until its issue lands."""

from fasthtml.common import APIRouter

rt = APIRouter()
