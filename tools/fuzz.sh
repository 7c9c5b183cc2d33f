#!/usr/bin/env bash
# Fuzz fastconv's Python API with atheris for N minutes (default 10): one
# process. New inputs go to build/fuzz-corpus (not committed), findings to
# build/fuzz-findings/; the committed seeds in tools/fuzz-corpus are only read.
#   pip install atheris (or the "fuzz" extra); tools/fuzz.sh [MINUTES] [libFuzzer flags...]
# A finding stops the run; replay it with `python tools/fuzz.py --replay FILE`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
minutes=${1:-10}
shift || true
work=$root/build/fuzz-corpus
findings=$root/build/fuzz-findings
mkdir -p "$work" "$findings"
exec python "$root/tools/fuzz.py" --minutes "$minutes" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$findings/" "$@" "$work" "$root/tools/fuzz-corpus"
