# SPDX-License-Identifier: MIT
# The lmzip program must never lose a file: overwrite refusal, -f, -k/--rm,
# missing and unreadable inputs, unwritable outputs, write errors. Every
# failure exits 1 and leaves no output or temp file behind.
# Works as root too (root ignores permission bits, so none of these checks
# relies on chmod). Usage: bash safety.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

for i in $(seq 1 120); do echo "line $i: pack my box with five dozen liquor jugs"; done > a
cp a a.orig
expect_rc 0 "setup compress" "$LMZIP" a || finish
cp a.lmz a.lmz.orig

# --- overwriting -------------------------------------------------------------
echo "precious" > a.lmz
expect_rc 1 "existing output without -f" "$LMZIP" a
expect_stderr "a\.lmz: already exists" "existing output message"
[ "$(cat a.lmz)" = precious ] || fail "existing output was changed without -f"
expect_rc 0 "existing output with -f" "$LMZIP" -f a
same_bytes a.lmz a.lmz.orig "-f overwrite"
expect_rc 1 "existing decompress output without -f" "$LMZIP" -d a.lmz
same_bytes a a.orig "decompress must not touch existing a"
expect_rc 1 "output over the input, even with -f" "$LMZIP" -d -f -o a.lmz a.lmz
same_bytes a.lmz a.lmz.orig "input survives -o onto itself"

# --- keep / remove -------------------------------------------------------------
cp a b
expect_rc 0 "-k keeps input" "$LMZIP" -k b
exists b "-k"
rm b.lmz
expect_rc 0 "--rm removes input after success" "$LMZIP" --rm b
absent b "--rm"
exists b.lmz "--rm output"
expect_rc 0 "--rm on decompress" "$LMZIP" -d --rm b.lmz
absent b.lmz "--rm on decompress"
same_bytes b a.orig "--rm round trip"
expect_rc 1 "-k with --rm" "$LMZIP" -k --rm b
exists b "-k --rm"
expect_rc 0 "--rm with -c keeps input" "$LMZIP" --rm -c b > /dev/null
exists b "--rm -c"

# --rm never removes on failure: corrupt input, and an unwritable output.
cp a.lmz broken.lmz
printf 'XXXX' | dd of=broken.lmz bs=1 seek=$(( $(wc -c < a.lmz) / 2 )) conv=notrunc 2>/dev/null
cp broken.lmz broken.lmz.orig
expect_rc 1 "--rm on corrupt input" "$LMZIP" -d --rm broken.lmz
same_bytes broken.lmz broken.lmz.orig "corrupt input kept by --rm"
absent broken "no output from corrupt input"
touch notadir
expect_rc 1 "--rm with unwritable output" "$LMZIP" --rm -o notadir/x b
exists b "--rm with unwritable output"

# --- inputs that cannot be read; several files carry on after a failure ---------
mkdir dir
ln -s a link
cp a c1
expect_rc 1 "missing, directory and symlink among several" "$LMZIP" missing dir link c1
expect_stderr "^lmzip: missing: No such file" "missing input message"
expect_stderr "^lmzip: dir: is a directory" "directory message"
expect_stderr "^lmzip: link: is a symbolic link" "symlink message"
absent missing.lmz "missing input"
absent dir.lmz "directory input"
absent link.lmz "symlink without -f"
exists c1.lmz "the good file among several"
expect_rc 0 "symlink input with -f" "$LMZIP" -f link
exists link.lmz "symlink with -f"

# --- outputs that cannot be written (root-proof) ----------------------------------
expect_rc 1 "output under a file" "$LMZIP" -o notadir/out a
expect_rc 1 "output under /proc" "$LMZIP" -o /proc/lmzip-test/out a
expect_rc 1 "output dir missing" "$LMZIP" -o nodir/out a
if [ -w /dev/full ]; then
  expect_rc 1 "write error on stdout" "$LMZIP" -c a > /dev/full
  expect_stderr "No space left" "write error message"
fi
same_bytes a a.orig "input survives failed outputs"

no_temp_files . "end of safety"
finish
