# SPDX-License-Identifier: MIT
# Files made with every model lmzip has shipped still decode with the models
# in the source tree, found by id and without -m: a model that leaves a level
# must stay in models/ under another name, and every shipped model has one.
# old-files/NAME.lmz is old-files/sample.txt compressed by lmzip 0.7.0
# (0.8.0 for default-0.8 and max-0.8, 0.9.0 for default and max) with the
# model now shipped as models/NAME.lmzm, at its level (-1, -5 or -9).
# default-adapted.lmz is the same at -5 by lmzip 0.10.0: chunk mode 7;
# fast-adapted-narrow.lmz at -2 by lmzip 0.11.0: chunk mode 8.
# binary.lmz: sample.txt at -9 with -m models/binary.lmzm (the binary model
# codes only binary frames by itself; -m makes it code the text), written
# when it first shipped.
# Usage: bash old_files.sh PATH_TO_LMZIP
set -u
OLD="$(cd "$(dirname "$0")/old-files" && pwd)"
MODELS="$(cd "$(dirname "$0")/../../models" && pwd)"
source "$(dirname "$0")/assertions.bash"

for model in "$MODELS"/*.lmzm; do
  name=$(basename "$model" .lmzm)
  exists "$OLD/$name.lmz" "a file made with the shipped $name.lmzm"
done
# Today's program writes the bytes the committed files hold, at every level:
# written.sha256 lists the SHA-256 of sample.txt compressed at each level by
# lmzip 0.11.0 with the models now in models/ (regenerate it, and say so in
# CHANGELOG.md, only when a level is meant to write other bytes).
expect_rc 0 "-5 again" env -u LMZIP_MODEL_PATH "$LMZIP" -5 -c "$OLD/sample.txt" > again5.lmz
same_bytes again5.lmz "$OLD/default-adapted.lmz" "-5 writes default-adapted.lmz's bytes"
expect_rc 0 "-2 again" env -u LMZIP_MODEL_PATH "$LMZIP" -2 -c "$OLD/sample.txt" > again2.lmz
same_bytes again2.lmz "$OLD/fast-adapted-narrow.lmz" "-2 writes fast-adapted-narrow.lmz's bytes"
while IFS=$'\t' read -r level sum; do
  got=$(env -u LMZIP_MODEL_PATH "$LMZIP" -"$level" -c "$OLD/sample.txt" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$sum" ] || fail "-$level writes other bytes than written.sha256 records"
done < "$OLD/written.sha256"
[ "$(wc -l < "$OLD/written.sha256")" -eq 9 ] || fail "written.sha256 should list the 9 levels"

for archive in "$OLD"/*.lmz; do
  name=$(basename "$archive" .lmz)
  # Only the source tree's models: no path from the environment.
  if expect_rc 0 "decompress a file made with $name.lmzm" env -u LMZIP_MODEL_PATH "$LMZIP" -dc "$archive" > "$name.out"; then
    same_bytes "$name.out" "$OLD/sample.txt" "file made with $name.lmzm"
  fi
done
finish
