# The production image: `docker build -t saas .`, then docs/deploy.md to run it.
# Stage 1 installs the locked runtime dependencies with uv and strips them; stage 2 is the
# plain Python image with that virtualenv and the byte-compiled app only: no uv, no compiler,
# no package caches, no tests or demo, and a non-root user.

FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
# strip(1), to drop the symbol tables the wheels ship: 65 MB, most of it polars'.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils >/dev/null \
    && rm -rf /var/lib/apt/lists/*
# Compile the dependencies' bytecode now (the app cannot write it at run time); copy rather
# than hard-link out of the cache mount; use the image's Python, never a downloaded one.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, so editing the app does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project \
    && find .venv -name '*.so*' -type f -exec strip --strip-unneeded {} +

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent app \
    && mkdir /data \
    && chown app:app /data
WORKDIR /app
# Owned by root and read-only for the app user: the process can write only to /data.
# The virtualenv is its own layer, so a change to the app alone ships a layer of ~2 MB.
COPY --from=build /app/.venv .venv
COPY main.py ./
COPY app/ app/
COPY tenants/ tenants/
COPY migrations/ migrations/
COPY static/ static/
COPY templates/ templates/
COPY blog/ blog/
# The app's own bytecode. Hash-based and unchecked: the code never changes inside the image,
# so Python loads it without comparing timestamps.
RUN .venv/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash main.py app tenants
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
# `docker stop` sends SIGTERM: the server stops accepting, gives in-flight requests and
# running jobs 10 s (app/work/scheduler.py), hands unfinished jobs back to the queue and
# exits. Give it 30 s: `docker run --stop-timeout 30` (docs/deploy.md).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/healthz\", timeout=4)"]
CMD ["python", "main.py"]
