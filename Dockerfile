# syntax=docker/dockerfile:1
# llm-gateway: `docker build -t llm-gateway .` from the repository root. See docs/DEPLOYMENT.md.
#
# Python 3.11: the interpreter the test suite and the benchmarks run on (requires-python is
# >=3.11, so a 3.12 base also works: --build-arg PYTHON_IMAGE=python:3.12-slim). Pin a digest
# (python:3.11-slim@sha256:...) in your own pipeline for reproducible builds.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# build: resolve nothing, install exactly what uv.lock says into /app/.venv.
FROM ${PYTHON_IMAGE} AS build

# uv from PyPI (no binaries from other hosts); the version that wrote uv.lock.
ARG UV_VERSION=0.13.9
RUN PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 pip install "uv==${UV_VERSION}"

# Bytecode is compiled here because the runtime root filesystem is read-only; copy mode because
# the uv cache is a separate mount; never fetch an interpreter: use the base image's.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3
WORKDIR /app

# Third-party dependencies first: this layer is rebuilt only when the lock or a member's
# pyproject.toml changes, not on every source edit.
COPY pyproject.toml uv.lock ./
COPY packages/gateway-core/pyproject.toml packages/gateway-core/
COPY packages/gateway-adapters/pyproject.toml packages/gateway-adapters/
COPY services/gateway-http/pyproject.toml services/gateway-http/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-workspace

# Then the workspace members, as ordinary (non-editable) installs: the runtime image carries
# /app/.venv only, not the source tree.
COPY packages packages
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

# ---------------------------------------------------------------------------------------------
# runtime: the interpreter, the virtual environment and the default configuration.
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="llm-gateway" \
      org.opencontainers.image.description="One OpenAI-compatible HTTP API in front of many LLM providers" \
      org.opencontainers.image.version="${VERSION}"

# A numeric, non-root user: Kubernetes' runAsNonRoot can only verify a numeric UID.
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin gateway

# The venv's scripts point at /app/.venv/bin/python, so it must keep the same path as in build.
COPY --from=build /app/.venv /app/.venv
# Owned by root and not writable by the service: config changes come from a mounted volume
# (ConfigMap) or a rebuild, never from the running process.
COPY config /app/config

WORKDIR /app
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LLM_GATEWAY_PROVIDERS_CONFIG=/app/config/providers.json \
    LLM_GATEWAY_TOOLS_CONFIG=/app/config/tools.json \
    LLM_GATEWAY_PRICING_CONFIG=/app/config/pricing.json \
    LLM_GATEWAY_MODELS_CONFIG=/app/config/models.json \
    LLM_GATEWAY_WORKERS=1

USER 10001:10001
EXPOSE 8080

# Liveness only (/health is 200 whenever the process answers). python:slim has no curl.
HEALTHCHECK --interval=15s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]

# Exec form: llm-gateway is PID 1 and receives SIGTERM itself (uvicorn drains, then exits).
# Worker processes come from LLM_GATEWAY_WORKERS.
CMD ["llm-gateway", "serve", "--host", "0.0.0.0", "--port", "8080"]
