#!/usr/bin/env bash
# OSCORE interop with aiocoap, both directions, on loopback (RFC 8613 C.1
# context material). Creates a venv with a pinned aiocoap, builds the
# oscore-proxy binary and runs interop/interop.py; prints one PASS/FAIL line
# per case and a final "N passed, M failed"; exits non-zero on failure.
#   INTEROP_VENV   where the venv lives (default target/interop-venv)
#   INTEROP_DEBUG  set to see aiocoap's and the server's logs
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${INTEROP_VENV:-target/interop-venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r interop/requirements.txt
cargo build --quiet -p oscore-proxy --bin oscore-proxy -j "${CARGO_BUILD_JOBS:-2}"
target_dir="$(cargo metadata --format-version 1 --no-deps | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
exec timeout 600 "$venv/bin/python" interop/interop.py \
    --binary "$target_dir/debug/oscore-proxy" \
    --vectors test-vectors/rfc8613_appendix_c.json \
    --work target/interop-work
