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

# -l -v: a block per file, as xz -lv: each stream with its model, each frame
# with its offset, sizes and chunk modes. 256 chunks of 1 KiB make a frame,
# so ~330 KB at --chunk-size 1K is two frames.
for i in $(seq 1 6000); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > lines
expect_rc 0 "-1 --chunk-size 1K" "$LMZIP" -1 --chunk-size 1K -c lines > lines.lmz
expect_rc 0 "-l -v" "$LMZIP" -l -v lines.lmz > lv.out
# "Stream Frame Offset Compressed Uncompressed Ratio Chunks Stored Model Chunk modes", one line a frame.
frame_rows() { awk '/^  Frames:$/ { on = 1; next } on && $1 ~ /^[0-9]+$/' "$1"; }
frame_rows lv.out > frames
[ "$(wc -l < frames)" -eq 2 ] || fail "-l -v: not two frame lines: $(cat lv.out)"
awk -v size="$(wc -c < lines)" -v total="$(wc -c < lines.lmz)" '
  NR == 1 && !($1 == 1 && $2 == 1 && $3 > 0 && $7 == 256 && $8 == 0) { bad = "frame 1: " $0 }
  NR == 2 && !($1 == 1 && $2 == 2 && $3 == end) { bad = "frame 2 does not start where frame 1 ends: " $0 }
  { end = $3 + $4; bytes += $5 }
  END { if (bytes != size) bad = bad " frames hold " bytes " bytes, not " size
        if (end >= total) bad = bad " frames end at " end ", past the file (" total ")"
        if (bad != "") { print bad; exit 1 } }' frames || fail "-l -v frame lines: $(cat lv.out)"
lines_id=$(sha256sum "$src/models/fast.lmzm" | cut -c1-8)
awk -v id="$lines_id" '$9 != id { exit 1 }' frames || fail "-l -v: each frame's model is fast.lmzm ($lines_id): $(cat frames)"
grep -Eq '^ +1 +1 .*  counts-narrow x256 \(written by levels? 1[-,)]' frames ||
  fail "-l -v: frame 1's chunk modes (-1 writes counts-narrow): $(cat frames)"
grep -Eq '^ +1 +0 +[0-9]+ .* fast \(.*fast\.lmzm\)$' lv.out || fail "-l -v: the stream's model by name: $(cat lv.out)"
expect_rc 0 "-lv" "$LMZIP" -lv lines.lmz > lv2.out
same_bytes lv2.out lv.out "-lv and -l -v"
"$LMZIP" -l lines.lmz | grep -q "Chunk modes" && fail "-l without -v shows frames"
# Concatenated: the second stream starts where the first ends, its frame after its header.
cat lines.lmz text.lmz > two.lmz
expect_rc 0 "-l -v of two streams" "$LMZIP" -l -v two.lmz > two.out
grep -Eq "^  Streams: +2$" two.out || fail "-l -v of two streams: count: $(cat two.out)"
grep -Eq "^ +2 +$(wc -c < lines.lmz) +$(wc -c < text.lmz) +$size " two.out ||
  fail "-l -v: stream 2's offset and sizes: $(cat two.out)"
frame_rows two.out | awk -v start="$(wc -c < lines.lmz)" '$1 == 2 && $2 == 1 && $3 > start { ok = 1 } END { exit !ok }' ||
  fail "-l -v: stream 2's frame: $(cat two.out)"
# A model the search path lacks: listed as unknown, by its id, and still exit 0.
expect_rc 0 "derive a model" "$LMZIP" derive "$src/models/fast.lmzm" -o gone.lmzm --window 16
gone_id=$(sha256sum gone.lmzm | cut -d' ' -f1)
expect_rc 0 "compress with it" "$LMZIP" -m gone.lmzm -c text > gone.lmz
rm -f gone.lmzm
mkdir no-models
expect_rc 0 "-l -v without the model" env LMZIP_MODEL_PATH="$WORK/no-models" "$LMZIP" -l -v gone.lmz > gone.out
grep -q "unknown model $gone_id" gone.out || fail "-l -v without the model: $(cat gone.out)"
[ "$(frame_rows gone.out | wc -l)" -eq 1 ] || fail "-l -v without the model: frames: $(cat gone.out)"

# -v: sizes, bits/byte, the model's ideal size and model id, on stderr only.
expect_rc 0 "-v" "$LMZIP" -v -c text > v.lmz
expect_stderr "^lmzip: text: [0-9.]+% \($size => [0-9]+ bytes, [0-9.]+ bits/byte; model ideal [0-9]+ bytes\), model .*[0-9a-f]{8}" "-v line"
same_bytes v.lmz text.lmz "-v does not change the output"
expect_rc 0 "no messages by default" "$LMZIP" -c one > /dev/null
[ ! -s stderr ] || fail "a plain run printed: $(cat stderr)"

no_temp_files . "end of basic"
finish
