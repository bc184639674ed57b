# SPDX-License-Identifier: MIT
# GNU parallel cuts one input into blocks, one lmzip a block, and one
# lmzip -d decodes the joined streams (docs/cli.md "Many files, many
# machines"). scripts/setup.sh installs parallel, so its absence is a
# failure. Usage: bash parallel.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

if ! command -v parallel > /dev/null; then
  fail "GNU parallel is not installed (apt-get install parallel; scripts/setup.sh does)"
  finish
fi
export HOME=$WORK  # parallel keeps its state in ~/.parallel
PAR=(parallel --will-cite -j2 --block 20k -k)

for i in $(seq 1 2000); do echo "line $i: the quick brown fox jumps over the lazy dog"; done | head -c 100000 > big
# streams FILE.lmz: the Streams column of lmzip -l.
streams() { "$LMZIP" -l "$1" | awk 'NR == 2 { print $1 }'; }

expect_rc 0 "parallel --pipepart" "${PAR[@]}" --pipepart -a big "$LMZIP" -1 -T1 -c > part.lmz
[ "$(streams part.lmz)" -gt 1 ] || fail "--pipepart: one stream, expected one a block: $("$LMZIP" -l part.lmz)"
expect_rc 0 "decompress --pipepart's streams" "$LMZIP" -d -c part.lmz > part.out
same_bytes part.out big "--pipepart round trip"

# From a pipe (as cat big | parallel --pipe ...).
expect_rc 0 "parallel --pipe" "${PAR[@]}" --pipe "$LMZIP" -1 -T1 -c < <(cat big) > pipe.lmz
[ "$(streams pipe.lmz)" -gt 1 ] || fail "--pipe: one stream, expected one a block: $("$LMZIP" -l pipe.lmz)"
expect_rc 0 "decompress --pipe's streams" "$LMZIP" -d < pipe.lmz > pipe.out
same_bytes pipe.out big "--pipe round trip"

# Through the ssh-login path (":" is this machine), as with remote hosts: the
# bytes do not depend on where a block was coded.
expect_rc 0 "parallel -S :" "${PAR[@]}" -S 2/: --pipe "$LMZIP" -1 -T1 -c < <(cat big) > ssh.lmz
same_bytes ssh.lmz pipe.lmz "-S : and local jobs"

# The blocks are not where one lmzip cuts frames: other bytes, same input.
expect_rc 0 "one lmzip" "$LMZIP" -1 -c big > one.lmz
[ "$(streams one.lmz)" -eq 1 ] || fail "one lmzip: more than one stream"
cmp -s one.lmz part.lmz && fail "--pipepart gave the bytes of a single lmzip: were there blocks?"

finish
