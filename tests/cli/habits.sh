# SPDX-License-Identifier: MIT
# Habits of gzip and xz users: unknown dashed words are usage errors, levels
# after the subcommand, one line per failure, -l and -t agree on an empty
# file, a missing -m, setuid/sticky/hard-linked inputs, the unlmzip and
# lmzcat names, -S and -r, -T and -M. Usage: bash habits.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

for i in $(seq 1 40); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > text
expect_rc 0 "setup -9" "$LMZIP" -9 -c text > text9.lmz || finish
expect_rc 0 "setup -1" "$LMZIP" -1 -c text > text1.lmz || finish
expect_rc 0 "setup default" "$LMZIP" -c text > text5.lmz || finish
# The level checks below mean something only if the levels differ here.
cmp -s text9.lmz text5.lmz && fail "setup: -9 and the default give the same bytes"

# Usage errors: the first stderr line names the word; no file was touched.
usage_error() {
  local what=$1
  shift
  expect_rc 1 "$what" "$@" || return
  head -n 1 "$WORK/stderr" | grep -Eq -- "^lmzip: .*$what" || fail "$what: first line: $(head -n 1 "$WORK/stderr")"
  grep -q "No such file" "$WORK/stderr" && fail "$what: taken as a file name: $(cat "$WORK/stderr")"
}

# --- 1. -0, -00, -10: usage errors, never file names ---------------------------------
cp text ./-0
for word in -0 -00 -10 -90; do
  usage_error "$word" "$LMZIP" "$word" text
  usage_error "$word" "$LMZIP" compress "$word" text
  absent text.lmz "$word text"
  absent ./-0.lmz "$word with a file named -0"
done
usage_error "-0" "$LMZIP" -0
usage_error "-\\." "$LMZIP" -.5 text
absent text.lmz "-.5 text"
absent ./-0.lmz "-0 alone"
# A file really named -0: after --, or as ./-0.
expect_rc 0 "-- -0" "$LMZIP" -- -0
exists ./-0.lmz "-- -0"
rm -f ./-0.lmz
expect_rc 0 "./-0" "$LMZIP" ./-0
exists ./-0.lmz "./-0"

# --- 2. a level after the subcommand is a level --------------------------------------
expect_rc 0 "compress -9 -c" "$LMZIP" compress -9 -c text > sub9.lmz
same_bytes sub9.lmz text9.lmz "compress -9 -c"
cp text level9
expect_rc 0 "compress -9 FILE" "$LMZIP" compress -9 level9
same_bytes level9.lmz text9.lmz "compress -9 FILE"
expect_rc 0 "compress -1 -o OUT IN" "$LMZIP" compress -1 -o sub1.lmz text
same_bytes sub1.lmz text1.lmz "compress -1 -o OUT IN"
expect_rc 0 "compress --best -c" "$LMZIP" compress --best -c text > best.lmz
same_bytes best.lmz text9.lmz "compress --best"
expect_rc 0 "decompress -9 -c" "$LMZIP" decompress -9 -c text9.lmz > sub9.out
same_bytes sub9.out text "decompress -9 -c"

# --- 3. one error line per failure ----------------------------------------------------
if [ -w /dev/full ]; then
  expect_rc 1 "-c to /dev/full" "$LMZIP" -c text > /dev/full
  [ "$(wc -l < stderr)" -eq 1 ] || fail "-c to /dev/full: not one line: $(cat stderr)"
  expect_rc 1 "-c two files to /dev/full" "$LMZIP" -c text level9 > /dev/full
  [ "$(wc -l < stderr)" -eq 1 ] || fail "-c two files to /dev/full: not one line: $(cat stderr)"
  expect_rc 1 "-dc to /dev/full" "$LMZIP" -dc text9.lmz > /dev/full
  [ "$(wc -l < stderr)" -eq 1 ] || fail "-dc to /dev/full: not one line: $(cat stderr)"
fi

# --- 4. -l and -t agree on an empty .lmz ----------------------------------------------
: > x.lmz
expect_rc 1 "-t on an empty .lmz" "$LMZIP" -t x.lmz
cp stderr t.err
expect_rc 1 "-l on an empty .lmz" "$LMZIP" -l x.lmz > /dev/null
expect_stderr "^lmzip: x\.lmz: .*empty input" "-l on an empty .lmz"
cmp -s stderr t.err || fail "-l and -t word an empty file differently: $(cat stderr) / $(cat t.err)"
expect_rc 1 "-l on empty stdin" "$LMZIP" -l < /dev/null > /dev/null

# --- 5. -d -m MISSING says so -----------------------------------------------------------
expect_rc 1 "-d -m missing" "$LMZIP" -d -m nosuch.lmzm -c text9.lmz > m.out
expect_stderr "^lmzip: .*nosuch\.lmzm" "-d -m missing"
[ "$(wc -l < stderr)" -eq 1 ] || fail "-d -m missing: not one line: $(cat stderr)"
[ ! -s m.out ] || fail "-d -m missing wrote data"
expect_rc 1 "-t -m missing" "$LMZIP" -t -m nosuch.lmzm text9.lmz
expect_stderr "nosuch\.lmzm" "-t -m missing"
mkdir model-dir
expect_rc 1 "-d -m a folder" "$LMZIP" -d -m model-dir -c text9.lmz > /dev/null
expect_stderr "model-dir" "-d -m a folder"

# --- 6. setuid, setgid, sticky and hard-linked inputs need -f -------------------------
cp text suid && chmod u+s suid
cp text sgid && chmod g+s sgid
cp text sticky && chmod +t sticky
cp text linked && ln linked linked2
for f in suid sgid sticky linked; do
  expect_rc 2 "$f without -f" "$LMZIP" "$f"
  expect_stderr "^lmzip: $f: .*ignored" "$f without -f"
  absent "$f.lmz" "$f without -f"
  expect_rc 0 "$f with -c" "$LMZIP" -c "$f" > "$f.c.lmz"
  expect_rc 0 "$f with -f" "$LMZIP" -f "$f"
  same_bytes "$f.lmz" text5.lmz "$f with -f"
done
rm -f suid.lmz
expect_rc 2 "setuid among several" "$LMZIP" suid text
exists text.lmz "the good file beside a setuid one"
rm -f text.lmz
cp text9.lmz hard.lmz && ln hard.lmz hard2.lmz
expect_rc 2 "decompress a hard-linked .lmz" "$LMZIP" -d hard.lmz
absent hard "decompress a hard-linked .lmz"
expect_rc 0 "decompress a hard-linked .lmz with -f" "$LMZIP" -d -f hard.lmz
same_bytes hard text "decompress a hard-linked .lmz with -f"

# --- 7. unlmzip and lmzcat ------------------------------------------------------------
ln -s "$LMZIP" unlmzip
ln -s "$LMZIP" lmzcat
cp text9.lmz un.lmz
expect_rc 0 "unlmzip FILE" ./unlmzip un.lmz
same_bytes un text "unlmzip FILE"
expect_rc 0 "lmzcat FILE" ./lmzcat text9.lmz > cat.out
same_bytes cat.out text "lmzcat FILE"
expect_rc 0 "lmzcat < FILE" ./lmzcat < text9.lmz > cat2.out
same_bytes cat2.out text "lmzcat < FILE"
expect_rc 0 "unlmzip -c from stdin" ./unlmzip < text9.lmz > cat3.out
same_bytes cat3.out text "unlmzip from stdin"

# --- 8. -S SUFFIX and -r ------------------------------------------------------------------
cp text s1
expect_rc 0 "-S .foo" "$LMZIP" -S .foo s1
same_bytes s1.foo text5.lmz "-S .foo"
absent s1.lmz "-S .foo"
rm s1
expect_rc 0 "-d -S .foo" "$LMZIP" -d -S .foo s1.foo
same_bytes s1 text "-d -S .foo"
expect_rc 2 "-S .foo on a .foo file" "$LMZIP" --suffix .foo s1.foo
expect_stderr "s1\.foo: already has \.foo suffix" "-S .foo on a .foo file"
rm s1
expect_rc 0 "-d --suffix=.foo -c" "$LMZIP" -d --suffix=.foo -c s1.foo > s1.out
same_bytes s1.out text "-d --suffix=.foo -c"
usage_error "suffix" "$LMZIP" -S "" text
usage_error "suffix" "$LMZIP" -S a/b text

mkdir -p tree/sub/deeper
cp text tree/a && cp text tree/sub/b && cp text tree/sub/deeper/c && cp text9.lmz tree/sub/old.lmz
# Links and FIFOs below a folder pass silently (exit 0): only regular files are
# read, and a followed sub-link would meet sub/b.lmz already there (exit 1).
ln -s a tree/link && ln -s sub tree/sub-link && mkfifo tree/fifo
expect_rc 1 "a folder without -r" "$LMZIP" tree
expect_stderr "tree: is a directory" "a folder without -r"
expect_rc 0 "-r" "$LMZIP" -r tree
for f in tree/a tree/sub/b tree/sub/deeper/c; do same_bytes "$f.lmz" text5.lmz "-r: $f"; done
absent tree/sub/old.lmz.lmz "-r skips .lmz files"
absent tree/link.lmz "-r skips links"
rm tree/a tree/sub/b tree/sub/deeper/c
expect_rc 0 "-d -r" "$LMZIP" -d -r tree
for f in tree/a tree/sub/b tree/sub/deeper/c tree/sub/old; do same_bytes "$f" text "-d -r: $f"; done
expect_rc 0 "-t --recursive" "$LMZIP" -t --recursive tree
rm tree/*.lmz tree/sub/*.lmz tree/sub/deeper/*.lmz
expect_rc 0 "-r -S .foo" "$LMZIP" -r -S .foo tree
exists tree/sub/deeper/c.foo "-r -S .foo"
absent tree/sub/deeper/c.lmz "-r -S .foo"
mkdir -p one-file && cp text one-file/only
expect_rc 0 "-rc" "$LMZIP" -rc one-file > rc.lmz
same_bytes rc.lmz text5.lmz "-rc on a folder of one file"

# --- 9. -T takes no more than the work uses; -M limits memory ----------------------------
# The text is one chunk: -T4096 runs one group (it once made 4096 predictors,
# 7 GB), so it works in a 2 GiB address space and writes what -T1 writes.
expect_rc 0 "-T4096 in 2 GiB" bash -c 'ulimit -v 2097152 && exec "$0" -T4096 -c text' "$LMZIP" > t4096.lmz
same_bytes t4096.lmz text5.lmz "-T4096"
expect_rc 1 "-M 1MiB" "$LMZIP" -M 1MiB -c text > m.lmz
[ -s m.lmz ] && fail "-M 1MiB -c: wrote $(wc -c < m.lmz) bytes before refusing"
expect_stderr "^lmzip: text: compressing needs [0-9]+ MiB of memory, more than the limit of 1 MiB \(-M/--memlimit\)$" "-M 1MiB"
[ "$(wc -l < "$WORK/stderr")" -eq 1 ] || fail "-M 1MiB: more than one line: $(cat "$WORK/stderr")"
absent text.lmz "-M 1MiB"
expect_rc 1 "-d -M 1MiB" "$LMZIP" -d --memlimit=1MiB -c text5.lmz
expect_stderr "decoding needs [0-9]+ MiB of memory, more than the limit of 1 MiB" "-d -M 1MiB"
for limit in max 50% 2G 1536MiB 0; do
  expect_rc 0 "-d -M $limit" "$LMZIP" -d -M "$limit" -c text5.lmz > m.out && same_bytes m.out text "-d -M $limit"
done
usage_error "-M" "$LMZIP" -M lots text
usage_error "-M" "$LMZIP" -M 0% text
absent text.lmz "-M lots"

no_temp_files . "end of habits"
finish
