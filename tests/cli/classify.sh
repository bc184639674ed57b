# SPDX-License-Identifier: MIT
# lmzip ncd, classify and score: the TSV's shape, labels on a tiny labelled
# folder, --eval's report, score and score --lines, bad input (a clear
# message and exit 1), and the same output with -T1 and -T2. Level 1 (the
# fast model) keeps it quick. Usage: bash classify.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

mkdir -p train/fruit train/code eval/fruit eval/code
printf 'apples, pears and plums ripen in the orchard in autumn\n' > train/fruit/a
printf 'a basket of cherries, apples and ripe pears\n' > train/fruit/b
printf 'int main(void) { int i; for (i = 0; i < 10; ++i) printf("%%d", i); return 0; }\n' > train/code/a
printf 'static int add(int a, int b) { return a + b; }\n' > train/code/b
printf 'pears and apples from the orchard\n' > eval/fruit/x
printf 'int sub(int a, int b) { return a - b; }\n' > eval/code/y
cp eval/fruit/x fruit.txt
cp eval/code/y code.txt

# ncd: a header row and a row per file, a name and one distance per file.
expect_rc 0 "ncd" "$LMZIP" ncd -1 fruit.txt code.txt train/fruit/a > ncd.tsv
[ "$(wc -l < ncd.tsv)" -eq 4 ] || fail "ncd: expected 4 lines, got $(wc -l < ncd.tsv)"
awk -F'\t' 'NF != 4 { bad = 1 } END { exit bad }' ncd.tsv || fail "ncd: every line should have 4 fields"
[ "$(head -n 1 ncd.tsv)" = "$(printf 'ncd\tfruit.txt\tcode.txt\ttrain/fruit/a')" ] || fail "ncd: header: $(head -n 1 ncd.tsv)"
awk -F'\t' 'NR > 1 { for (i = 2; i <= NF; ++i) if ($i !~ /^-?[0-9]+\.[0-9]+$/) bad = 1 } END { exit bad }' ncd.tsv ||
  fail "ncd: distances should be numbers"
# fruit.txt is nearer the fruit text than code.txt is.
awk -F'\t' 'NR == 2 { f = $4 } NR == 3 { c = $4 } END { exit !(f < c) }' ncd.tsv || fail "ncd: fruit not nearer fruit"
expect_rc 0 "ncd --against" "$LMZIP" ncd -1 fruit.txt --against code.txt train/fruit/a > against.tsv
[ "$(wc -l < against.tsv)" -eq 2 ] || fail "ncd --against: expected 2 lines"

# classify: one line per file, its label.
expect_rc 0 "classify" "$LMZIP" classify -1 --train train fruit.txt code.txt > labels.tsv
[ "$(cat labels.tsv)" = "$(printf 'fruit.txt\tfruit\ncode.txt\tcode')" ] || fail "classify: labels: $(cat labels.tsv)"

# --eval: accuracy, per-class precision and recall, confusion matrix.
expect_rc 0 "classify --eval" "$LMZIP" classify -1 -k 1 --train train --eval eval > eval.txt
grep -q "^accuracy	1.0000	2/2	k=1	level 1" eval.txt || fail "--eval: accuracy line: $(head -n 1 eval.txt)"
grep -q "^class	precision	recall	support	predicted$" eval.txt || fail "--eval: no class table"
grep -q "^code	1.0000	1.0000	1	1$" eval.txt || fail "--eval: code's row"
grep -q "^confusion" eval.txt || fail "--eval: no confusion matrix"
grep -q "^fruit	0	1$" eval.txt || fail "--eval: confusion row of fruit"
# Without a level, ncd and classify run at -1 (they code every pair).
expect_rc 0 "classify --eval, no level" "$LMZIP" classify --train train --eval eval > eval-default.txt
grep -q "^accuracy	1.0000	2/2	k=1	level 1	" eval-default.txt || fail "classify's default level: $(head -n 1 eval-default.txt)"
expect_rc 0 "ncd, no level" "$LMZIP" ncd fruit.txt code.txt train/fruit/a > ncd-default.tsv
cmp -s ncd.tsv ncd-default.tsv || fail "ncd's default level is not -1"
expect_rc 0 "classify --distances" "$LMZIP" classify -1 --train train --eval eval --distances d.tsv > /dev/null
[ "$(wc -l < d.tsv)" -eq 3 ] || fail "--distances: expected 3 lines"

# score: bits per byte, bytes, bits, file; --lines: per line.
printf 'the orchard is full of apples\nthe orchard is full of pears\nzq8#vV!x0@@kP~~ 93jf\n' > lines.txt
expect_rc 0 "score" "$LMZIP" score -1 fruit.txt lines.txt > score.tsv
[ "$(wc -l < score.tsv)" -eq 2 ] || fail "score: expected 2 lines"
awk -F'\t' 'NF != 4 || $1 !~ /^[0-9]+\.[0-9]+$/ { bad = 1 } END { exit bad }' score.tsv || fail "score: format: $(cat score.tsv)"
expect_rc 0 "score --lines" "$LMZIP" score -1 --lines lines.txt > lines.tsv
[ "$(wc -l < lines.tsv)" -eq 3 ] || fail "score --lines: expected 3 lines"
[ "$(cut -f4 lines.tsv | tr '\n' ' ')" = "lines.txt:1 lines.txt:2 lines.txt:3 " ] || fail "score --lines: positions"
# The line that does not belong costs the most.
[ "$(sort -t'	' -k1,1 -g lines.tsv | tail -n 1 | cut -f4)" = "lines.txt:3" ] || fail "score --lines: noise not the costliest"

# -T1 and -T2: the same bytes.
for cmd in "ncd -1 fruit.txt code.txt lines.txt" "classify -1 --train train --eval eval fruit.txt" "score -1 --lines lines.txt"; do
  # shellcheck disable=SC2086
  "$LMZIP" $cmd -T1 > t1.out 2>/dev/null || fail "$cmd -T1 failed"
  # shellcheck disable=SC2086
  "$LMZIP" $cmd -T2 > t2.out 2>/dev/null || fail "$cmd -T2 failed"
  same_bytes t1.out t2.out "$cmd: -T1 vs -T2"
done

# Bad input: a clear message, exit 1.
expect_rc 1 "classify without --train" "$LMZIP" classify -1 fruit.txt
expect_stderr "needs --train" "classify without --train"
expect_rc 1 "classify, missing dir" "$LMZIP" classify -1 --train nowhere fruit.txt
expect_stderr "nowhere: no such folder" "classify, missing dir"
mkdir -p empty/label
expect_rc 1 "classify, empty train dir" "$LMZIP" classify -1 --train empty fruit.txt
expect_stderr "no labelled files" "classify, empty train dir"
expect_rc 1 "classify, missing file" "$LMZIP" classify -1 --train train missing.txt
expect_stderr "missing.txt: cannot be read" "classify, missing file"
printf 'secret\n' > unreadable.txt
chmod 000 unreadable.txt
if ! cat unreadable.txt > /dev/null 2>&1; then  # root reads it anyway
  expect_rc 1 "score, unreadable file" "$LMZIP" score -1 unreadable.txt
  expect_stderr "unreadable.txt: cannot be read" "score, unreadable file"
fi
chmod 644 unreadable.txt
expect_rc 1 "ncd, no file" "$LMZIP" ncd -1
expect_stderr "at least one FILE" "ncd, no file"
expect_rc 1 "ncd, a folder" "$LMZIP" ncd -1 train
expect_stderr "is a folder" "ncd, a folder"
expect_rc 1 "classify -k 0" "$LMZIP" classify -1 -k 0 --train train fruit.txt
expect_stderr "at least 1" "classify -k 0"
expect_rc 1 "ncd, missing model" "$LMZIP" ncd -m nowhere.lmzm fruit.txt
[ -s stderr ] || fail "ncd, missing model: no message"

finish
