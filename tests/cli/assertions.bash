# SPDX-License-Identifier: MIT
# Sourced by the tests/cli/*.sh scripts (not a test itself: ctest runs *.sh).
# Sets LMZIP (the program under test) and WORK (a scratch folder removed on
# exit), and gives small checks that count failures instead of stopping, so
# one run reports every broken behaviour. Call finish at the end.

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash $0 PATH_TO_LMZIP" >&2
  exit 2
fi
LMZIP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lmzip-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 2
FAILURES=0

fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# expect_rc WANT DESCRIPTION COMMAND...: runs COMMAND, stderr to $WORK/stderr.
expect_rc() {
  local want=$1 what=$2
  shift 2
  "$@" 2>"$WORK/stderr"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$what: exit $rc, expected $want; stderr: $(head -c 400 "$WORK/stderr")"
    return 1
  fi
  return 0
}

# expect_stderr PATTERN DESCRIPTION: the last expect_rc's stderr matches (grep -E).
expect_stderr() {
  grep -Eq -- "$1" "$WORK/stderr" || fail "$2: stderr lacks /$1/: $(head -c 400 "$WORK/stderr")"
}

same_bytes() {
  cmp -s "$1" "$2" || fail "$3: $1 and $2 differ"
}

# round_trips FILE LEVEL...: FILE compressed at each level into FILE.lmz (the
# last level's stays there) and decompressed back to the same bytes.
round_trips() {
  local f=$1 level
  shift
  for level in "$@"; do
    expect_rc 0 "compress $f at -$level" "$LMZIP" -"$level" -k -f -c "$f" > "$f.lmz" || continue
    expect_rc 0 "decompress $f" "$LMZIP" -d -c "$f.lmz" > "$f.out"
    same_bytes "$f.out" "$f" "$f at -$level round trip"
  done
}

# modes FILE.lmz: the chunk modes of lmzip -l -v's frames.
modes() { "$LMZIP" -l -v "$1" | awk '/Chunk modes/ { on = 1; next } on'; }

exists() { [ -e "$1" ] || fail "$2: $1 is missing"; }
absent() { [ ! -e "$1" ] || fail "$2: $1 should not exist"; }

# No temp file (".NAME.XXXXXX") may be left in a folder after any outcome.
no_temp_files() {
  local left
  left=$(find "${1:-.}" -maxdepth 1 -name '.*.??????' -type f | head -n 3)
  [ -z "$left" ] || fail "$2: temp files left: $left"
}

finish() {
  if [ "$FAILURES" -ne 0 ]; then
    echo "$FAILURES check(s) failed in $(basename "$0")" >&2
    exit 1
  fi
  echo "all checks passed in $(basename "$0")"
  exit 0
}
