# SPDX-License-Identifier: MIT
# Round trips through the lmzip program over edge-case inputs: by file
# (several at once), by pipe, -c, concatenated streams, -t, -l and -v.
# Each run of the program costs ~1 s of libtorch start-up, so runs are few. Usage: bash basic.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

# Inputs: small, because the model codes ~15k symbols/s.
: > empty
printf 'x' > one
for i in $(seq 0 255); do printf "\\$(printf '%03o' "$i")"; done > bytes256
head -c 100000 /dev/urandom > random
src=${LMZIP_SOURCE_DIR:-$(dirname "$0")/../..}
if [ -f "$src/docs/cli.md" ]; then head -c 3000 "$src/docs/cli.md" > text; else
  for i in $(seq 1 60); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > text; fi
printf 'caf\xc3\xa9 \xff\xfe broken \xc3 utf-8 \xed\xa0\x80 end\n' > badutf8
INPUTS="empty one bytes256 random text badutf8"

# By file, several at once: FILE -> FILE.lmz, every FILE kept.
for f in $INPUTS; do cp "$f" "$f.orig"; done
expect_rc 0 "compress several files" "$LMZIP" $INPUTS
for f in $INPUTS; do
  exists "$f.lmz" "compress $f"
  same_bytes "$f" "$f.orig" "compress keeps $f"
  rm -f "$f"
done
expect_rc 0 "decompress several files" "$LMZIP" -d $(for f in $INPUTS; do echo "$f.lmz"; done)
for f in $INPUTS; do
  same_bytes "$f" "$f.orig" "file round trip of $f"
  exists "$f.lmz" "decompress keeps $f.lmz"
done
no_temp_files . "round trips"

# -c with several inputs gives the same bytes as the files, concatenated, and
# concatenated streams decode to the concatenated inputs.
NOT_RANDOM="empty one bytes256 text badutf8"
expect_rc 0 "-c with several inputs" "$LMZIP" -c $NOT_RANDOM > joined.lmz
cat $(for f in $NOT_RANDOM; do echo "$f.lmz"; done) > joined.expected.lmz
same_bytes joined.lmz joined.expected.lmz "-c output vs file outputs"
cat $NOT_RANDOM > joined.expected
expect_rc 0 "concatenated decompress" "$LMZIP" -dc joined.lmz > joined.out
same_bytes joined.out joined.expected "concatenated streams"

# By pipe.
for f in empty text badutf8; do
  "$LMZIP" < "$f" 2>stderr | "$LMZIP" -d > "$f.pipe" 2>>stderr || fail "pipe round trip of $f: $(cat stderr)"
  same_bytes "$f.pipe" "$f" "pipe round trip of $f"
done
expect_rc 0 "pipe decompress" "$LMZIP" -d < random.lmz > random.pipe
same_bytes random.pipe random "pipe decompress of random"

# -t verifies and writes nothing.
rm -f text.out
expect_rc 0 "-t" "$LMZIP" -t text.lmz joined.lmz random.lmz > t.stdout
[ ! -s t.stdout ] || fail "-t wrote to stdout"
absent text.out "-t"
expect_rc 0 "-t from stdin" "$LMZIP" -t < text.lmz

# -l lists sizes from the headers.
expect_rc 0 "-l" "$LMZIP" -l text.lmz joined.lmz > list.out
grep -q "Compressed" list.out || fail "-l header missing: $(cat list.out)"
size=$(wc -c < text | tr -d ' ')
grep -E "[[:space:]]$size[[:space:]].*text\.lmz" list.out > /dev/null || fail "-l lacks text.lmz with $size bytes: $(cat list.out)"
grep -q "(total)" list.out || fail "-l of two files lacks a total line"
[ "$(grep -c 'joined.lmz' list.out)" = 1 ] || fail "-l lacks joined.lmz"
awk '/joined.lmz/ { if ($1 != 5) exit 1 }' list.out || fail "-l joined.lmz should show 5 streams: $(cat list.out)"

# -v: sizes, bits/byte, the model's ideal size and model id, on stderr only.
expect_rc 0 "-v" "$LMZIP" -v -c text > v.lmz
expect_stderr "^lmzip: text: [0-9.]+% \($size => [0-9]+ bytes, [0-9.]+ bits/byte; model ideal [0-9]+ bytes\), model .*[0-9a-f]{8}" "-v line"
same_bytes v.lmz text.lmz "-v does not change the output"
expect_rc 0 "no messages by default" "$LMZIP" -c one > /dev/null
[ ! -s stderr ] || fail "a plain run printed: $(cat stderr)"

no_temp_files . "end of basic"
finish
