#!/usr/bin/env bash
# Creates (or refreshes) the Python virtual environments that the emulator conformance
# test and the API-model check run in: `bash .ci/conformance-venv.sh VENV_DIR`.
# VENV_DIR gets the current SDKs (tests/conformance/requirements.txt); VENV_DIR/azureml-core
# gets azureml-core (requirements-azureml-core.txt), which pins older azure-* packages and
# so cannot share the first venv; conformance.py finds it there. Idempotent and quiet: a
# venv whose recorded requirements match its file is left as it is.
set -euo pipefail

venv="${1:?usage: conformance-venv.sh VENV_DIR}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# make_venv DIR REQUIREMENTS: (re)creates DIR from REQUIREMENTS unless its stamp matches.
make_venv() {
    local dir="$1" req="$2"
    local stamp="$dir/.synlink-requirements"
    if [[ -x "$dir/bin/python" && -f "$stamp" ]] && cmp -s "$req" "$stamp"; then
        return 0
    fi
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
}

make_venv "$venv" "$here/tests/conformance/requirements.txt"
make_venv "$venv/azureml-core" "$here/tests/conformance/requirements-azureml-core.txt"
