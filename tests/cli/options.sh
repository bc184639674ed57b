# SPDX-License-Identifier: MIT
# Option spellings of the lmzip program: subcommands, -c, -o, stdin, -q,
# -T, levels, --chunk-size, -h, -V, --, mode and times, tar -I lmzip, .tlmz.
# Usage: bash options.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

printf 'x' > one
for i in $(seq 1 40); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > text
printf 'caf\xc3\xa9 \xff\xfe broken \xc3 utf-8 \xed\xa0\x80 end\n' > badutf8
for i in $(seq 0 255); do printf "\\$(printf '%03o' "$i")"; done > bytes256
expect_rc 0 "setup" "$LMZIP" text badutf8 || finish

# Subcommand spellings take the main options; - is stdin.
expect_rc 0 "compress -c" "$LMZIP" compress -c text > c1.lmz
same_bytes c1.lmz text.lmz "compress -c vs compress"
expect_rc 0 "decompress -c" "$LMZIP" decompress -c c1.lmz > c1.out
same_bytes c1.out text "decompress -c"
expect_rc 0 "-dc -" "$LMZIP" -dc - < text.lmz > c2.out
same_bytes c2.out text "-dc -"
expect_rc 0 "- as stdin, compress" "$LMZIP" - < badutf8 > c2.lmz
same_bytes c2.lmz badutf8.lmz "- as stdin, compress"

# -o names the output; the input stays.
expect_rc 0 "-o" "$LMZIP" -o named.lmz text
exists named.lmz "-o"
expect_rc 0 "-d -o" "$LMZIP" -d -o named.out named.lmz
same_bytes named.out text "-d -o"
expect_rc 0 "-d -o from stdin" "$LMZIP" -d -o stdin.out < text.lmz
same_bytes stdin.out text "-d -o from stdin"

# Levels, threads and the combined short flags parse; -T does not change bytes.
expect_rc 0 "-T2" "$LMZIP" -T2 -c badutf8 > t2.lmz
same_bytes t2.lmz badutf8.lmz "-T2 output equals -T1"
expect_rc 0 "-kf -5 and -q" "$LMZIP" -kf -5 -q -c one > /dev/null
[ ! -s stderr ] || fail "-q printed: $(cat stderr)"
expect_rc 0 "-h" "$LMZIP" -h > help.out
grep -q -- "--rm" help.out || fail "-h lacks --rm"
# Each level's help line comes from the level table: its model and chunks.
grep -q -- "-9 .*max.lmzm; chunks of 512K to 1M" help.out || fail "-h lacks -9's row: $(grep -- ' -9 ' help.out)"
grep -q "Levels (default 5)" help.out || fail "-h lacks the default level"
# LMZIP_KERNELS forces a kernel: the same bytes; a word it does not know, or
# a kernel the CPU lacks, is one error line.
expect_rc 0 "LMZIP_KERNELS=portable" env LMZIP_KERNELS=portable "$LMZIP" -c badutf8 > portable.lmz
same_bytes portable.lmz badutf8.lmz "LMZIP_KERNELS=portable"
expect_rc 1 "LMZIP_KERNELS=sse2" env LMZIP_KERNELS=sse2 "$LMZIP" -c text > /dev/null
expect_stderr "LMZIP_KERNELS must be auto, vnni, avx2 or portable, not 'sse2'" "LMZIP_KERNELS=sse2"
[ "$(wc -l < stderr)" -eq 1 ] || fail "LMZIP_KERNELS=sse2: more than one line: $(cat stderr)"
# -v says which device ran the frames.
expect_rc 0 "-v --device cpu" "$LMZIP" -v --device cpu -c text > /dev/null
grep -q "text: frames 1 on CPU" stderr || fail "-v lacks the device: $(cat stderr)"
expect_rc 0 "-V" "$LMZIP" -V > version.out
grep -q "^lmzip " version.out || fail "-V prints: $(cat version.out)"

# --chunk-size caps the chunks (K and M suffixes) and takes 1 KiB to 16 MiB.
for i in $(seq 1 200); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > long
expect_rc 0 "--chunk-size 1K" "$LMZIP" --chunk-size 1K -c long > small-chunks.lmz
expect_rc 0 "-l of --chunk-size 1K" "$LMZIP" -l small-chunks.lmz > chunks.out
[ "$(awk 'NR == 2 { print $3 }' chunks.out)" = 11 ] || fail "--chunk-size 1K: not 11 chunks: $(cat chunks.out)"
expect_rc 0 "-d of --chunk-size 1K" "$LMZIP" -dc small-chunks.lmz > small-chunks.out
same_bytes small-chunks.out long "--chunk-size 1K round trip"
expect_rc 1 "--chunk-size 100" "$LMZIP" --chunk-size 100 -c long
expect_stderr "not in range" "--chunk-size 100"
expect_rc 1 "--chunk-size 17M" "$LMZIP" --chunk-size 17M -c long

# Mode and times of the input carry over to the output.
cp one modes
chmod 640 modes
touch -d '2001-02-03 04:05:06' modes
expect_rc 0 "compress for modes" "$LMZIP" modes
[ "$(stat -c '%a %Y' modes.lmz)" = "$(stat -c '%a %Y' modes)" ] ||
  fail "mode/mtime not kept: $(stat -c '%a %Y' modes) vs $(stat -c '%a %Y' modes.lmz)"
rm modes
expect_rc 0 "decompress for modes" "$LMZIP" -d modes.lmz
[ "$(stat -c '%a %Y' modes)" = "640 $(date -d '2001-02-03 04:05:06' +%s)" ] ||
  fail "mode/mtime not restored: $(stat -c '%a %Y' modes)"

# A file named like a subcommand, after --.
cp one compress
expect_rc 0 "-- compress" "$LMZIP" -- compress
exists compress.lmz "-- compress"

# tar calls lmzip and lmzip -d on pipes.
mkdir -p tree/sub
cp text badutf8 tree/ && cp bytes256 tree/sub/ && : > tree/sub/empty
expect_rc 0 "tar -I lmzip create" tar -cf tree.tar.lmz -I "$LMZIP" tree
mkdir untar
expect_rc 0 "tar -I lmzip extract" tar -xf tree.tar.lmz -I "$LMZIP" -C untar
diff -r tree untar/tree > /dev/null || fail "tar round trip differs"
expect_rc 0 "tar.lmz tests" "$LMZIP" -t tree.tar.lmz
# .tlmz decompresses to .tar.
cp tree.tar.lmz tree.tlmz
expect_rc 0 ".tlmz" "$LMZIP" -d tree.tlmz
exists tree.tar ".tlmz -> .tar"

no_temp_files . "end of options"
finish
