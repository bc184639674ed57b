# SPDX-License-Identifier: MIT
# lmzip derive: a copy of a shipped model with another attention window is a
# model of its own (own id) that round-trips; bad requests fail with a reason.
# Usage: bash derive.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"
MODELS="$(cd "$(dirname "$0")/../../models" && pwd)"

cp "$(dirname "$0")/../../README.md" text  # prose, much longer than the window
expect_rc 0 "derive --window 16" "$LMZIP" derive "$MODELS/fast.lmzm" -o short.lmzm --window 16 --name short
exists short.lmzm "derive"
expect_rc 0 "compress with the derived model" "$LMZIP" -m short.lmzm -c text > short.lmz
expect_rc 0 "compress with the shipped model" "$LMZIP" -m "$MODELS/fast.lmzm" -c text > shipped.lmz
# A 16-symbol window sees less of the text, so it codes it in more bytes.
[ "$(wc -c < short.lmz)" -gt "$(wc -c < shipped.lmz)" ] ||
  fail "window 16 is not larger: $(wc -c < short.lmz) vs $(wc -c < shipped.lmz) bytes"
expect_rc 0 "decompress with the derived model" "$LMZIP" -m short.lmzm -dc short.lmz > short.out
same_bytes short.out text "derived model round trip"
# Its id is its own: the shipped models do not decode it.
expect_rc 1 "decompress without the derived model" env LMZIP_MODEL_PATH=/nonexistent "$LMZIP" -dc short.lmz
expect_stderr "not found" "decompress without the derived model"

expect_rc 1 "derive over an existing file" "$LMZIP" derive "$MODELS/fast.lmzm" -o short.lmzm --window 32
expect_stderr "exists" "derive over an existing file"
expect_rc 1 "derive into a missing folder" "$LMZIP" derive "$MODELS/fast.lmzm" -o missing/short.lmzm --window 32
expect_stderr "cannot write missing/short.lmzm" "derive into a missing folder"
expect_rc 1 "derive of a missing model" "$LMZIP" derive missing.lmzm -o other.lmzm --window 32
expect_stderr "cannot open" "derive of a missing model"
expect_rc 1 "derive of a file that is no model" "$LMZIP" derive text -o other.lmzm --window 32
absent other.lmzm "derive of a file that is no model"
expect_rc 1 "derive --window 0" "$LMZIP" derive "$MODELS/fast.lmzm" -o other.lmzm --window 0
expect_rc 1 "derive without --window" "$LMZIP" derive "$MODELS/fast.lmzm" -o other.lmzm
absent other.lmzm "derive without --window"

no_temp_files . "end of derive"
finish
