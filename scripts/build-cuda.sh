#!/bin/bash
# Builds lmzip with the CUDA predictor into build-cuda/ (docs/gpu.md).
#
#   scripts/build-cuda.sh [extra cmake -D options]
#
# Needs nvcc (CUDA 12 or 13; $CUDACXX, else nvcc on PATH, else /usr/local/cuda)
# and a CUDA-enabled libtorch, found in this order:
#   1. $LMZIP_TORCH_DIR (a folder holding TorchConfig.cmake);
#   2. the torch of python3, if it has CUDA (a GPU machine's own torch);
#   3. PyPI's torch wheel (torch==$LMZIP_TORCH_VERSION), installed once into
#      a venv in the user's cache ($LMZIP_CACHE, default ~/.cache/lmzip) and
#      reused by every checkout: the wheel alone, with the CUDA toolkit's own
#      libraries where they serve (1.6 GB), else with all its nvidia-*
#      runtime packages (5.3 GB). Enough to compile and link on a machine
#      without a GPU, and to run the programs there on the CPU. The link
#      leaves the wheel's libraries to run time (-Wl,--allow-shlib-undefined),
#      where libtorch's own RPATH (or ldconfig) finds them.
# Environment: BUILD_DIR (default build-cuda), JOBS (default 1),
# CUDA_ARCHS (default: cmake/cuda.cmake's list; e.g. 90 for H100/H200 only),
# TARGETS (default "lmzip test_model").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
build_dir=${BUILD_DIR:-build-cuda}
jobs=${JOBS:-1}
targets=${TARGETS:-lmzip test_model}

nvcc=${CUDACXX:-$(command -v nvcc || true)}
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -z "$nvcc" ]; then
  echo "build-cuda: nvcc not found (install the CUDA toolkit, or set CUDACXX)" >&2
  exit 1
fi

torch_dir=${LMZIP_TORCH_DIR:-}
allow_undefined=0
if [ -z "$torch_dir" ] && python3 -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
  torch_dir=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')/Torch
fi
if [ -z "$torch_dir" ]; then
  # Pinned, so that the cached download stays valid and every machine builds
  # against the same headers.
  version=${LMZIP_TORCH_VERSION:-2.15.0}
  venv=${LMZIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmzip}/torch-venv
  if [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null)" != "$version" ]; then
    echo "build-cuda: installing PyPI's torch $version (CUDA build) into $venv" >&2
    python3 -m venv "$venv"
    # The wheel without its nvidia-* runtime packages (3 GB of the 5.3): the
    # compile and link need only its headers and libraries, and the CUDA
    # toolkit's own libraries (through ldconfig) let the programs load for the
    # tests. Then the few libraries a toolkit does not ship (cuSPARSELt,
    # NVSHMEM, cuFile), at the versions the wheel names; if anything is still
    # missing (another CUDA major version, no cuDNN or NCCL), the full set.
    nice -n 19 "$venv/bin/pip" install --quiet --no-deps "torch==$version"
    # shellcheck disable=SC2046
    nice -n 19 "$venv/bin/pip" install --quiet $("$venv/bin/python" - <<'PY'
import importlib.metadata as m, re
for r in m.requires("torch"):
    spec = r.split(";")[0].replace(" ", "")
    if re.match(r"nvidia-(cusparselt|nvshmem)", spec):
        print(spec)
    elif spec.startswith("cuda-toolkit["):
        print(re.sub(r"\[[^]]*\]", "[cufile]", spec))
PY
)
  fi
  if ldd "$venv"/lib/python3*/site-packages/torch/lib/libtorch_cuda.so | grep -q 'not found'; then
    echo "build-cuda: this CUDA toolkit lacks libraries torch $version needs; installing its nvidia-* packages" >&2
    nice -n 19 "$venv/bin/pip" install --quiet "torch==$version"
  fi
  torch_dir=$(echo "$venv"/lib/python3*/site-packages/torch/share/cmake/Torch)
  allow_undefined=1
  echo "build-cuda: torch ready in $(($(date +%s) - start)) s" >&2
fi
echo "build-cuda: nvcc $nvcc, Torch_DIR $torch_dir" >&2

# The torch folder itself leads the prefix path: TorchConfig.cmake's
# find_library calls would otherwise pick a system libtorch (Debian's) first.
torch_root=$(readlink -f "$torch_dir/../../..")
args=(-DLMZIP_CUDA=ON -DTorch_DIR="$torch_dir" -DCMAKE_PREFIX_PATH="$torch_root;$torch_root/share/cmake"
      -DCMAKE_CUDA_COMPILER="$nvcc"
      -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST
      -DCUDAToolkit_ROOT="$(dirname "$(dirname "$(readlink -f "$nvcc")")")")
[ -n "${CUDA_ARCHS:-}" ] && args+=(-DLMZIP_CUDA_ARCHITECTURES="$CUDA_ARCHS")
if [ "$allow_undefined" = 1 ]; then
  args+=(-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined)
fi
start=$(date +%s)
nice -n 19 cmake -S . -B "$build_dir" "${args[@]}" "$@"
echo "build-cuda: configured in $(($(date +%s) - start)) s" >&2
start=$(date +%s)
# shellcheck disable=SC2086
nice -n 19 cmake --build "$build_dir" -j"$jobs" --target $targets
echo "build-cuda: built $targets in $build_dir in $(($(date +%s) - start)) s" >&2
