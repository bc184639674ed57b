#!/bin/bash
# Checks that lmzip writes the same bytes as a recorded run: every level on
# every file of a corpus, one SHA-256 of each .lmz. A refactoring that must
# not change the format or the models' predictions is checked this way.
#
#   bench/same_bytes.sh write LMZIP CORPUS > LIST   # record (one line: level, file, sha256)
#   bench/same_bytes.sh check LMZIP CORPUS LIST     # compare; exits 1 naming each difference
#
# CORPUS is a folder (e.g. ../shared/corpus/bench); its files are taken in
# sorted order, by their path relative to it. LEVELS (default "1 2 3 4 5 6 7
# 8 9") narrows the run. The whole bench corpus at every level takes about
# 30 minutes on 2 cores.
set -euo pipefail
mode=${1:?usage: same_bytes.sh write|check LMZIP CORPUS [LIST]}
lmzip=${2:?usage: same_bytes.sh write|check LMZIP CORPUS [LIST]}
corpus=${3:?usage: same_bytes.sh write|check LMZIP CORPUS [LIST]}
levels=${LEVELS:-1 2 3 4 5 6 7 8 9}

hashes() {
  local level file
  for level in $levels; do
    while IFS= read -r file; do
      printf '%s\t%s\t%s\n' "$level" "$file" "$("$lmzip" -"$level" -c "$corpus/$file" | sha256sum | cut -d' ' -f1)"
    done < <(cd "$corpus" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
  done
}

case $mode in
  write) hashes ;;
  check)
    list=${4:?usage: same_bytes.sh check LMZIP CORPUS LIST}
    status=0 checked=0
    while IFS=$'\t' read -r level file sum; do
      want=$(awk -F'\t' -v l="$level" -v f="$file" '$1 == l && $2 == f {print $3}' "$list")
      checked=$((checked + 1))
      if [ -z "$want" ]; then
        echo "not in $list: -$level $file"; status=1
      elif [ "$want" != "$sum" ]; then
        echo "different bytes: -$level $file"; status=1
      fi
    done < <(hashes)
    echo "$checked files checked, $([ $status = 0 ] && echo all the same || echo some differ)"
    exit $status ;;
  *) echo "same_bytes.sh: write or check, not '$mode'" >&2; exit 2 ;;
esac
