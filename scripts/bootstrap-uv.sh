# Sourced by scripts/serve and scripts/test: puts uv on PATH, installing it into .tools/ (a
# private virtual environment, so no system Python is modified) when it is missing.
if ! command -v uv >/dev/null 2>&1; then
    if [ ! -x .tools/uv/bin/uv ]; then
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
            echo "llm-gateway needs Python 3.11 or newer as python3" >&2
            exit 1
        }
        echo "uv not found: installing it into .tools/uv" >&2
        python3 -m venv .tools/uv
        .tools/uv/bin/python -m pip install --quiet --disable-pip-version-check uv
    fi
    PATH="$PWD/.tools/uv/bin:$PATH"
    export PATH
fi
