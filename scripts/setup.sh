#!/bin/sh
# Installs what lmzip needs on Debian 12, builds it, and compresses and
# decompresses a file with the shipped default model.
set -eu
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# sentencepiece: its spm_train trains token vocabularies (lmzip train).
# python3-venv: the test suite's CUDA stage installs PyPI's torch into a venv.
# ninja-build: the sanitizer stage builds its test programs in parallel with it.
# parallel: tests/cli/parallel.sh cuts an input into blocks with GNU parallel, as docs/cli.md shows.
# liblzma-dev: lzma2 chunks are coded with liblzma's LZMA2 (binary data, as xz -9e).
# zlib1g-dev: deflate streams in binary data (PDF, zip, gzip) are inflated and rebuilt by zlib.
# libopenblas0-pthread: training (lmzip train) runs libtorch, whose GEMMs would otherwise run on the
# reference BLAS, about 40 times slower.
$SUDO apt-get install -y -qq --no-install-recommends \
  cmake make g++ pkg-config ca-certificates \
  libtorch-dev libopenblas0-pthread \
  sentencepiece libcli11-dev libspdlog-dev libgtest-dev liblzma-dev zlib1g-dev python3-venv ninja-build parallel \
  >/dev/null

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"

# The main job: a round trip through the default model.
build/lmzip -v -c README.md > build/README.md.lmz
build/lmzip -d -c build/README.md.lmz | cmp - README.md
build/lmzip -l build/README.md.lmz
echo "lmzip is built: build/lmzip"
