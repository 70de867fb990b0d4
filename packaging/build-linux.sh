#!/usr/bin/env bash
# Build the posdesk POS for Linux with the PyInstaller spec, then run the bundle's self-test offscreen.
#
#   packaging/build-linux.sh            -> dist/posdesk/posdesk (one folder), self-tested
#
# Environment:
#   PYTHON               interpreter with posdesk[dev] installed (default: .venv/bin/python, else python3)
#   POSDESK_DIST_DIR     where the bundle goes (default: dist)
#   POSDESK_WORK_DIR     PyInstaller's work folder (default: build)
#   POSDESK_CLEAN_BUILD  1 (default): clear PyInstaller's caches first, as a release build should;
#                        0: reuse them (CI's quick check, the packaging test)
# Exit status: PyInstaller's if the build fails, else the self-test's (0 = the bundle works).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
DIST=${POSDESK_DIST_DIR:-$ROOT/dist}
WORK=${POSDESK_WORK_DIR:-$ROOT/build}
clean=()
if [ "${POSDESK_CLEAN_BUILD:-1}" = 1 ]; then clean=(--clean); fi

started=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm "${clean[@]}" --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" "$ROOT/packaging/pyinstaller/posdesk.spec"
built=$(date +%s)
echo "built $DIST/posdesk in $((built - started)) s, $(du -sh "$DIST/posdesk" | cut -f1)"

# The self-test uses a throwaway data folder: a build machine's own posdesk data stays untouched.
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
QT_QPA_PLATFORM=offscreen POSDESK_DATA_DIR="$data" "$DIST/posdesk/posdesk" --self-test
