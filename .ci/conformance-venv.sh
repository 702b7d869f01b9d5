#!/usr/bin/env bash
# Creates (or refreshes) the Python virtual environment that the emulator conformance
# test runs in: `bash .ci/conformance-venv.sh VENV_DIR`. Idempotent and quiet: a venv whose
# recorded requirements match tests/conformance/requirements.txt is left as it is.
set -euo pipefail

venv="${1:?usage: conformance-venv.sh VENV_DIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$here/tests/conformance/requirements.txt"
stamp="$venv/.synlink-requirements"

if [[ -x "$venv/bin/python" && -f "$stamp" ]] && cmp -s "$req" "$stamp"; then
    exit 0
fi

python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$stamp"
