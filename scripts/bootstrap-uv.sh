# shellcheck shell=sh
# Sourced by scripts/serve, scripts/test and .ci/run: puts uv on PATH. A uv already on PATH is
# used as it is; otherwise the pinned version below is installed from PyPI into .tools/uv (a
# private virtual environment, so no system Python is modified), and reinstalled when the pin
# changes. The pin is the uv that wrote uv.lock (the Dockerfile's UV_VERSION says the same).
LLM_GATEWAY_UV_VERSION=0.13.9
if ! command -v uv >/dev/null 2>&1; then
    if [ "$(.tools/uv/bin/uv --version 2>/dev/null)" != "uv $LLM_GATEWAY_UV_VERSION" ]; then
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
            echo "llm-gateway needs Python 3.11 or newer as python3" >&2
            exit 1
        }
        echo "uv not found: installing uv $LLM_GATEWAY_UV_VERSION into .tools/uv" >&2
        rm -rf .tools/uv
        python3 -m venv .tools/uv
        .tools/uv/bin/python -m pip install --quiet --disable-pip-version-check \
            "uv==$LLM_GATEWAY_UV_VERSION"
    fi
    PATH="$PWD/.tools/uv/bin:$PATH"
    export PATH
fi
