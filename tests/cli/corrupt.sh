# SPDX-License-Identifier: MIT
# Bad .lmz input: truncated, corrupt, foreign, trailing garbage, random bytes,
# and names without the .lmz suffix. Every failure exits 1, names the file,
# and leaves no output or temp file behind. Usage: bash corrupt.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

for i in $(seq 1 120); do echo "line $i: pack my box with five dozen liquor jugs"; done > a
cp a a.orig
expect_rc 0 "setup compress" "$LMZIP" a || finish
cp a.lmz broken.lmz
printf 'XXXX' | dd of=broken.lmz bs=1 seek=$(( $(wc -c < a.lmz) / 2 )) conv=notrunc 2>/dev/null

# --- truncated: each cut decoded in one run, which also carries on after errors -
size=$(wc -c < a.lmz)
CUTS=""
for cut in 1 4 10 $((size / 2)) $((size - 1)); do
  head -c "$cut" a.lmz > "cut$cut.lmz"
  CUTS="$CUTS cut$cut.lmz"
done
expect_rc 1 "truncated (-d)" "$LMZIP" -d $CUTS
for f in $CUTS; do
  absent "${f%.lmz}" "$f leaves no output"
  expect_stderr "^lmzip: $f: " "message names $f"
done

# --- corrupt, foreign, trailing garbage, random, empty ----------------------------
: > empty.lmz
cp a.orig foreign.lmz
cat a.lmz > trailing.lmz && echo "garbage" >> trailing.lmz
head -c 3000 /dev/urandom > noise.lmz
BAD="broken.lmz empty.lmz foreign.lmz trailing.lmz noise.lmz"
expect_rc 1 "bad inputs (-d)" "$LMZIP" -d $BAD
for f in $BAD; do
  absent "${f%.lmz}" "$f leaves no output"
  expect_stderr "^lmzip: $f: " "message names $f"
done
expect_rc 1 "bad inputs (-t)" "$LMZIP" -t $BAD $CUTS a.lmz
for f in $BAD $CUTS; do expect_stderr "^lmzip: $f: " "-t message names $f"; done
grep -q "^lmzip: a\.lmz:" stderr && fail "-t complained about the good a.lmz: $(cat stderr)"
expect_rc 1 "corrupt via pipe" "$LMZIP" -d < broken.lmz > /dev/null
expect_rc 1 "-l on foreign" "$LMZIP" -l foreign.lmz > /dev/null

# --- a damaged coded chunk: where, and no talk of another model --------------------
# The model is found by its SHA-256, so the data is what is wrong. The one
# chunk's data starts after the 42-byte header and its frame's 22-byte table.
expect_rc 1 "damaged chunk" "$LMZIP" -t broken.lmz
expect_stderr "^lmzip: broken\.lmz: corrupt input: (chunk 0 of the frame at byte offset 42 \(its data at byte offset 64\) does not decode: [a-z ]+|checksum mismatch in the frame at byte offset 42: the data is corrupt)$" "damaged chunk: offsets"
grep -q "different model" "$WORK/stderr" && fail "damaged chunk: suggests a different model: $(cat "$WORK/stderr")"

# --- a damaged LZMA2 chunk: a random block repeated is LZMA2's frame ----------------
head -c 3000 /dev/urandom > block
for i in $(seq 1 60); do cat block; done > bin
expect_rc 0 "compress bin" "$LMZIP" bin || finish
expect_rc 0 "-lv bin.lmz" "$LMZIP" -lv bin.lmz > listing
grep -q "lzma2 x1 (written by levels 1-9)" listing || fail "bin.lmz is not one lzma2 chunk: $(cat listing)"
# Its payload starts at byte 64 (header 42, frame type, count, one entry, table CRC); 0x03 is no LZMA2 control byte.
printf '\003' | dd of=bin.lmz bs=1 seek=64 conv=notrunc 2>/dev/null
rm bin
expect_rc 1 "damaged lzma2 chunk" "$LMZIP" -d bin.lmz
expect_stderr "chunk 0 of the frame at byte offset 42 \(its data at byte offset 64\) does not decode: its LZMA2 stream is corrupt" \
  "damaged lzma2 chunk message"
absent bin "damaged lzma2 chunk leaves no output"

# --- suffixes -----------------------------------------------------------------------
cp a.lmz plain
expect_rc 1 "unknown suffix" "$LMZIP" -d plain
expect_stderr "unknown suffix" "unknown suffix message"
expect_rc 0 "unknown suffix with -o" "$LMZIP" -d -o plain.out plain
same_bytes plain.out a.orig "-o with unknown suffix"
expect_rc 0 "unknown suffix with -c" "$LMZIP" -dc plain > plain.out2
same_bytes plain.out2 a.orig "-c with unknown suffix"
rm -f a.lmz.lmz
expect_rc 2 "compressing a .lmz file is skipped" "$LMZIP" a.lmz
expect_stderr "already has \.lmz suffix" "skip message"
absent a.lmz.lmz "skipped .lmz"
expect_rc 0 "compressing a .lmz file with -f" "$LMZIP" -f a.lmz
exists a.lmz.lmz "-f on .lmz"

no_temp_files . "end of corrupt"
finish
