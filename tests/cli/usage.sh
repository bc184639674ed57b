# SPDX-License-Identifier: MIT
# The lmzip program's command line and process behaviour: parse errors exit 1
# with a gzip-style message, terminals are refused, and SIGTERM/SIGINT remove
# the temp file and kill the process by the signal. Usage: bash usage.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

printf 'x' > one
echo "some text" > a
echo "more text" > c1

# --- command-line errors exit 1 with a gzip-style message --------------------------
expect_rc 1 "unknown option" "$LMZIP" --no-such-option a
expect_stderr "^lmzip: " "parse error prefix"
expect_stderr "Try 'lmzip --help'" "parse error hint"
expect_rc 1 "-T without a number" "$LMZIP" -T
expect_rc 1 "-T not a number" "$LMZIP" -T x a
expect_rc 1 "-o with two inputs" "$LMZIP" -o x a c1
absent x "-o with two inputs"
expect_rc 1 "-o with -c" "$LMZIP" -c -o x a
expect_rc 1 "train without inputs" "$LMZIP" train -o m.lmzm
expect_rc 1 "train with a bad tokenizer" "$LMZIP" train --tokenizer words -o m.lmzm a
expect_rc 1 "train with --init-model and a width" "$LMZIP" train --init-model m.lmzm --width 64 -o n.lmzm a
expect_stderr "--width cannot go with --init-model" "train with --init-model and a width"

# --- terminals ---------------------------------------------------------------------
if command -v script > /dev/null && script -qec true /dev/null > /dev/null 2>&1; then
  script -qec "'$LMZIP' -c a" /dev/null > tty.out 2>&1
  rc=$?
  [ "$rc" -eq 1 ] || fail "compressed data to a terminal: exit $rc"
  grep -q "cannot be written to a terminal" tty.out || fail "terminal message: $(head -c 300 tty.out)"
  script -qec "'$LMZIP' -d" /dev/null > tty.out 2>&1 < /dev/null
  rc=$?
  [ "$rc" -eq 1 ] || fail "compressed data from a terminal: exit $rc"
  script -qec "'$LMZIP' -f -c one" /dev/null > /dev/null 2>&1 || true
else
  echo "skip: no working script(1) for the terminal checks"
fi

# --- signals: the temp file goes, the input stays, the shell sees 128+n ------------
# Large enough that compression is still running when the signal arrives.
head -c 400000 /dev/urandom | base64 > slow
cp slow slow.orig
set -m  # own process group, so a background job does not ignore SIGINT
for sig in TERM INT; do
  "$LMZIP" slow 2>/dev/null &
  pid=$!
  sleep 2  # past the libtorch start-up, into compression
  if kill -0 "$pid" 2>/dev/null; then
    kill -s "$sig" "$pid"
    wait "$pid"
    rc=$?
    want=$((128 + $(kill -l "$sig")))
    [ "$rc" -eq "$want" ] || fail "SIG$sig: exit $rc, expected $want"
    absent slow.lmz "SIG$sig leaves no output"
  else
    wait "$pid"
    echo "skip: SIG$sig check, compression finished within two seconds"
  fi
  rm -f slow.lmz
  same_bytes slow slow.orig "SIG$sig keeps the input"
done
set +m

no_temp_files . "end of usage"
finish
