#!/usr/bin/env bash
# Cross-compile the kernels for arm64 (only the portable scalar path is built
# there) and run the C test driver under qemu. Needs Debian's
# gcc-aarch64-linux-gnu and qemu-user (apt-get install -y gcc-aarch64-linux-gnu qemu-user).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cat > "$build/aarch64.cmake" <<'TOOLCHAIN'
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
TOOLCHAIN
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$build/aarch64.cmake" \
  -DFASTCONV_BUILD_CTESTS=ON | grep "fastconv:"
ninja -C "$build" 2>&1 | grep -E "warning|error" && exit 1
file "$build/test_kernels"
qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/test_kernels" 100
