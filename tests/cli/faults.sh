# SPDX-License-Identifier: MIT
# Faults from outside: a full disk (a file-size limit, so writes fail with
# EFBIG) and signals in the middle of a run. Each must end with the right exit
# status, no output and no temp file left, and the input untouched, --rm
# included. Usage: bash faults.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

# 64 KiB of random bytes: stored without running the model, so these runs
# are fast, and the output is larger than the limits below.
head -c 65536 /dev/urandom > rnd
cp rnd rnd.orig
"$LMZIP" -c rnd > rnd.packed 2>/dev/null || fail "setup: compressing rnd"
cp rnd.packed keep.lmz

# --- a full disk: writes past `ulimit -f` fail (EFBIG) ------------------------------
# The shell's limit is in KiB. lmzip ignores SIGXFSZ so that the write fails
# with an error instead of killing the process before it removes its temp file.
mkdir full
cp rnd full/in
cp rnd.packed full/packed.lmz
(ulimit -f 16; exec "$LMZIP" --rm full/in) 2>stderr
rc=$?
[ "$rc" -eq 1 ] || fail "full disk, compress: exit $rc, expected 1 (153 is death by SIGXFSZ)"
expect_stderr "full/in\.lmz: write error: File too large" "full disk, compress message"
absent full/in.lmz "full disk, compress leaves no output"
same_bytes full/in rnd.orig "full disk, --rm keeps the input"
no_temp_files full "full disk, compress"

(ulimit -f 16; exec "$LMZIP" -d --rm full/packed.lmz) 2>stderr
rc=$?
[ "$rc" -eq 1 ] || fail "full disk, decompress: exit $rc, expected 1"
expect_stderr "full/packed: write error: File too large" "full disk, decompress message"
absent full/packed "full disk, decompress leaves no output"
same_bytes full/packed.lmz rnd.packed "full disk, -d --rm keeps the input"
no_temp_files full "full disk, decompress"

# The limit does not hold pipes: the same run to stdout still works.
(ulimit -f 16; "$LMZIP" -d -c full/packed.lmz | cmp -s - rnd.orig) 2>stderr \
  || fail "a file-size limit breaks a pipe: $(head -c 300 stderr)"

# --- signals while the output is pending ---------------------------------------------
# The input comes through a FIFO that stalls after a few KiB, so lmzip is
# surely mid-run (its temp file exists) when the signal comes, however fast
# the model is. The feeder runs in its own process group (set -m), killed
# whole afterwards so no `sleep` outlives the test.
set -m  # jobs in their own process groups, so a background job keeps SIGINT
start_feeder() {  # FILE BYTES: feeds the FIFO "gate", then stalls
  rm -f gate
  mkfifo gate
  { head -c "$2" "$1"; sleep 60; } > gate 2>/dev/null &
  feeder=$!
}
stop_feeder() {
  kill -- -"$feeder" 2>/dev/null
  wait "$feeder" 2>/dev/null
  rm -f gate
}

# Waits up to 20 s for a temp file matching $1 in the current folder while
# process $2 runs.
wait_for_temp() {
  local i
  for i in $(seq 200); do
    [ -n "$(find . -maxdepth 1 -name "$1" -type f | head -n 1)" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# signal_run SIG WANT_RC TEMP_GLOB DESCRIPTION: signals the background lmzip
# ($pid) once its temp file exists, and checks how it died.
signal_run() {
  if wait_for_temp "$3" "$pid"; then
    sleep 0.3
    kill -s "$1" "$pid"
    wait "$pid"
    local rc=$?
    [ "$rc" -eq "$2" ] || fail "$4: exit $rc, expected $2; stderr: $(head -c 300 stderr)"
  else
    fail "$4: no temp file appeared; stderr: $(head -c 300 stderr)"
    kill "$pid" 2>/dev/null
    wait "$pid"
  fi
}

for case in "TERM compress" "INT compress" "HUP compress" "INT decompress" "TERM decompress"; do
  set -- $case
  sig=$1 op=$2
  want=$((128 + $(kill -l "$sig")))
  if [ "$op" = compress ]; then
    target=out.lmz
    start_feeder rnd 8192
    "$LMZIP" -o "$target" < gate 2>stderr &
  else
    target=out
    start_feeder rnd.packed 20000
    "$LMZIP" -d -o "$target" < gate 2>stderr &
  fi
  pid=$!
  signal_run "$sig" "$want" ".$target.??????" "SIG$sig during $op"
  stop_feeder
  absent "$target" "SIG$sig during $op leaves no output"
  no_temp_files . "SIG$sig during $op"
done

# --rm and a signal: the input stays. The input is the FIFO itself (-f).
start_feeder rnd 8192
"$LMZIP" -f --rm gate 2>stderr &
pid=$!
signal_run INT 130 ".gate.lmz.??????" "SIGINT with --rm"
[ -p gate ] || fail "SIGINT with --rm removed its input"
stop_feeder
absent gate.lmz "SIGINT with --rm leaves no output"

# The same with a regular file, as long as compressing it takes more than a
# moment (text, so the model runs; skipped if it is already done).
head -c 300000 /dev/urandom | base64 > victim
cp victim victim.orig
"$LMZIP" --rm victim 2>stderr &
pid=$!
if wait_for_temp ".victim.lmz.??????" "$pid"; then
  sleep 0.5
  kill -s TERM "$pid"
  wait "$pid"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "skip: SIGTERM with --rm on a file, compression finished first"
  else
    [ "$rc" -eq 143 ] || fail "SIGTERM with --rm on a file: exit $rc, expected 143"
    absent victim.lmz "SIGTERM with --rm on a file leaves no output"
    same_bytes victim victim.orig "SIGTERM with --rm keeps the input file"
  fi
else
  wait "$pid"
  echo "skip: SIGTERM with --rm on a file, compression finished first"
fi
set +m
no_temp_files . "signals"
finish
