#!/bin/bash
# Builds lmzip with -DLMZIP_TORCH=OFF and runs its tests as on a machine
# without libtorch: in a private mount namespace (root; unshare), empty
# folders and /dev/null are mounted over libtorch's headers, CMake configs
# and libraries, so anything that still reached for them would fail. The
# rest of the machine keeps its libtorch.
#
#   sudo scripts/check-without-torch.sh [BUILD_DIR]   (default /tmp/build-notorch)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-/tmp/build-notorch}
if [ -z "${LMZIP_IN_NAMESPACE:-}" ]; then
  exec env LMZIP_IN_NAMESPACE=1 unshare -m "$0" "$build"
fi
empty=$(mktemp -d)
for d in /usr/include/ATen /usr/include/c10 /usr/include/caffe2 /usr/include/torch \
         /usr/lib/x86_64-linux-gnu/cmake/ATen /usr/lib/x86_64-linux-gnu/cmake/Caffe2 \
         /usr/lib/x86_64-linux-gnu/cmake/Torch; do
  if [ -d "$d" ]; then mount --bind "$empty" "$d"; fi
done
for f in /usr/lib/x86_64-linux-gnu/libtorch*.so* /usr/lib/x86_64-linux-gnu/libc10*.so*; do
  if [ -e "$f" ]; then mount --bind /dev/null "$f"; fi
done
rm -rf "$build"
cmake -S "$src" -B "$build" -DLMZIP_TORCH=OFF -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" -j"$(nproc)"
