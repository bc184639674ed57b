# SPDX-License-Identifier: MIT
# cmake --install of the build folder that holds PATH_TO_LMZIP: the program,
# its unlmzip and lmzcat links, the training module, every shipped model and
# the manual page, where the installed program finds them.
# Usage: bash install.sh PATH_TO_LMZIP (LMZIP_SOURCE_DIR set)
set -u
source "$(dirname "$0")/assertions.bash"

BUILD=$(dirname "$LMZIP")
SOURCE=${LMZIP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ ! -f "$BUILD/CMakeCache.txt" ] || ! command -v cmake > /dev/null; then
  echo "skip: $BUILD is not a CMake build folder, or no cmake"
  finish
fi
P=$WORK/prefix
expect_rc 0 "cmake --install" cmake --install "$BUILD" --prefix "$P" > install.log || finish

exists "$P/bin/lmzip" "the program"
for alias in unlmzip lmzcat; do
  [ "$(readlink "$P/bin/$alias")" = lmzip ] || fail "$alias is not a link to lmzip: $(ls -l "$P/bin/$alias" 2>&1)"
  [ "$(readlink "$P/share/man/man1/$alias.1")" = lmzip.1 ] || fail "$alias.1 is not a link to lmzip.1"
done
# The training module, where this build has one (LMZIP_TORCH=OFF builds none).
if grep -q '^LMZIP_TORCH:BOOL=OFF' "$BUILD/CMakeCache.txt"; then
  absent "$P/lib/lmzip/liblmzip_train.so" "no training module without libtorch"
else
  exists "$P/lib/lmzip/liblmzip_train.so" "the training module"
fi
same_bytes "$P/share/man/man1/lmzip.1" "$SOURCE/docs/lmzip.1" "the manual page"
for model in "$SOURCE"/models/*.lmzm; do
  same_bytes "$P/share/lmzip/models/$(basename "$model")" "$model" "model $(basename "$model")"
done
for model in fast default max; do exists "$P/share/lmzip/models/$model.lmzm" "a level's model"; done

# The installed program uses the installed models (they come before the
# source tree's): with fast.lmzm installed as default.lmzm, level 5 codes
# with fast's network.
for i in $(seq 1 40); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > text
expect_rc 0 "-m fast.lmzm" "$LMZIP" -5 -m "$SOURCE/models/fast.lmzm" -c text > fast.lmz
expect_rc 0 "default model" "$LMZIP" -5 -c text > default.lmz
cmp -s fast.lmz default.lmz && fail "setup: fast.lmzm and default.lmzm give the same bytes"
cp "$SOURCE/models/fast.lmzm" "$P/share/lmzip/models/default.lmzm"
expect_rc 0 "installed lmzip" env -u LMZIP_MODEL_PATH "$P/bin/lmzip" -5 -c text > installed.lmz
same_bytes installed.lmz fast.lmz "installed lmzip uses share/lmzip/models"
expect_rc 0 "installed lmzcat" env -u LMZIP_MODEL_PATH "$P/bin/lmzcat" installed.lmz > installed.out
same_bytes installed.out text "installed lmzcat"
cp installed.lmz back.lmz
expect_rc 0 "installed unlmzip" env -u LMZIP_MODEL_PATH "$P/bin/unlmzip" back.lmz
same_bytes back text "installed unlmzip"
finish
