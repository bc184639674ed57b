# SPDX-License-Identifier: MIT
# The manual page docs/lmzip.1 and docs/cli.md name every option that
# lmzip --help lists, so neither falls behind the program; groff reads the
# page without warnings. Usage: bash manual.sh PATH_TO_LMZIP (LMZIP_SOURCE_DIR set)
set -u
source "$(dirname "$0")/assertions.bash"

SOURCE=${LMZIP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PAGE=$SOURCE/docs/lmzip.1
exists "$PAGE" "the manual page"
[ -f "$PAGE" ] || finish

expect_rc 0 "--help" "$LMZIP" --help > help.out
# "  -c,--stdout,--to-stdout   write..." -> -c, --stdout, --to-stdout
grep -oE '^ +-[^ ]+' help.out | tr -d ' ' | tr ',' '\n' > options
[ "$(wc -l < options)" -ge 30 ] || fail "--help lists only $(wc -l < options) options"
# Troff writes a dash as \- and fonts as \fB ... \fR.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$PAGE" > page.txt
while read -r option; do
  grep -qE -- "(^|[^-a-z0-9])$option([^-a-z0-9]|\$)" page.txt || fail "lmzip.1 lacks $option"
  case "$option" in
    -[1-9]) ;;  # docs/cli.md's level table names each; its option table says -1 ... -9
    *) grep -qE -- "(^|[^-a-z0-9])$option([^-a-z0-9]|\$)" "$SOURCE/docs/cli.md" || fail "docs/cli.md lacks $option" ;;
  esac
done < options

if command -v groff > /dev/null; then
  groff -man -Tutf8 -ww "$PAGE" > page.out 2> groff.err || fail "groff failed: $(head -c 300 groff.err)"
  [ ! -s groff.err ] || fail "groff warns: $(head -c 300 groff.err)"
  grep -q "unlmzip" page.out || fail "the page lacks unlmzip"
else
  echo "skip: no groff to read the page"
fi
finish
