#!/bin/sh
# Runs the whole test suite (unit tests and the scripted CLI tests).
set -eu
cd "$(dirname "$0")/.."
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
