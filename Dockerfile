# One image for production: `docker build -t saas .` then see docs/deploy.md to run it.
# Stage 1 installs the locked dependencies with uv; stage 2 is a plain Python image with the
# app and its virtualenv only: no uv, no compiler, no package caches, and a non-root user.

FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
# Compile the dependencies' bytecode now (the app cannot write it at run time); copy rather
# than hard-link out of the cache mount; use the image's Python, never a downloaded one.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, so editing the app does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev --no-install-project
COPY main.py ./
COPY app/ app/
COPY tenants/ tenants/
COPY migrations/ migrations/
COPY static/ static/
COPY templates/ templates/
COPY blog/ blog/

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent app \
    && mkdir /data \
    && chown app:app /data
# Owned by root and read-only for the app user: the process can write only to /data.
COPY --from=build /app /app
WORKDIR /app
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=5001 \
    DATA_DIR=/data
VOLUME /data
USER 10001:10001
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/healthz\", timeout=4)"]
CMD ["python", "main.py"]
