#!/usr/bin/env bash
# One command for the Python walkthrough: a virtualenv (IDENTITY_EXAMPLES_VENV, default
# target/python-venv) with the pinned grpcio, then client_walkthrough.py with the
# arguments given (e.g. --addr 127.0.0.1:50051 --mail-dir ./mail).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${IDENTITY_EXAMPLES_VENV:-$here/../../target/python-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
exec "$venv/bin/python" "$here/client_walkthrough.py" "$@"
