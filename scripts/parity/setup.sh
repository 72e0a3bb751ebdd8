#!/usr/bin/env bash
# Create (or reuse) the Python venv with QSTrader 0.3.0 for the parity harness.
#
#   PARITY_VENV    venv location (default: $HOME/.cache/slurm-sweep/qstrader-venv)
#   PARITY_PYTHON  interpreter used to create it (default: python3; needs >= 3.11)
#
# Idempotent: when the venv exists and was built from the current
# requirements.txt (sha256 stamp) and qstrader imports, it returns at once.
# Prints the venv path on the last line of stdout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQ="$HERE/requirements.txt"
VENV="${PARITY_VENV:-$HOME/.cache/slurm-sweep/qstrader-venv}"
PYTHON="${PARITY_PYTHON:-python3}"
STAMP="$VENV/.slurm-sweep-requirements.sha256"
export TZ=UTC

want="$(sha256sum "$REQ" | cut -d' ' -f1)"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] &&
   "$VENV/bin/python" -c 'import qstrader, pytz, pandas, numpy' 2>/dev/null; then
    echo "qstrader venv up to date: $VENV" >&2
    echo "$VENV"
    exit 0
fi

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "error: $PYTHON is older than Python 3.11 (the pinned wheels need >= 3.11);" \
         "set PARITY_PYTHON" >&2
    exit 1
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating venv $VENV with $("$PYTHON" --version 2>&1)" >&2
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi

echo "installing $REQ into $VENV" >&2
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ" >&2
"$VENV/bin/python" -m pip check >&2 || true
"$VENV/bin/python" - >&2 <<'EOF'
from importlib.metadata import version
import sys
print("python %s" % sys.version.split()[0])
for p in ("qstrader", "pandas", "numpy", "pytz", "python-dateutil"):
    print("%s %s" % (p, version(p)))
EOF
echo "$want" > "$STAMP"
echo "$VENV"
