# SPDX-License-Identifier: MIT
# Deflate streams that zlib reproduces (a zip of Python's zipfile, a gzip
# file, a PDF-like file of zlib streams) are context-mixed inflated
# (docs/format.md "Inflated context-mixing chunks"), come back byte for byte,
# and shrink well below xz -9e; a stream another deflate made stays as bytes;
# a damaged chunk is refused without output.
# Usage: bash deflate.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

python3 - <<'EOF' || fail "python3 could not write the test files"
import gzip, io, random, zipfile, zlib
rnd = random.Random(7)
words = ['stream', 'object', 'value', 'return', 'width', 'height', 'font', 'page', 'index', 'table']
def text(n):
    return ''.join('%s %d %s\n' % (rnd.choice(words), rnd.randint(0, 999), rnd.choice(words))
                   for _ in range(n)).encode()
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
    for i in range(6):
        info = zipfile.ZipInfo('file%d.txt' % i, date_time=(2023, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, text(1500))
open('bundle.zip', 'wb').write(buf.getvalue())
open('notes.gz', 'wb').write(gzip.compress(text(4000), mtime=0))
pdf = b'%PDF-1.4\n'
for i in range(8):
    body = zlib.compress(text(700), 9 if i % 2 else 6)
    pdf += b'%d 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n' % (i + 1, len(body)) + body + b'\nendstream\nendobj\n'
open('doc.pdf', 'wb').write(pdf + b'trailer\n<< /Size 9 >>\n%%EOF\n')
# Z_FILTERED: no default-strategy parameters reproduce it.
c = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_FILTERED)
open('filtered.bin', 'wb').write(bytes(rnd.getrandbits(8) for _ in range(300)) + c.compress(text(2000)) + c.flush())
EOF

for f in bundle.zip notes.gz doc.pdf filtered.bin; do
  round_trips "$f" 1 5
done
for f in bundle.zip notes.gz doc.pdf; do
  modes "$f.lmz" | grep -q "inflated-context-mix x1" || fail "$f: no inflated chunk: $(modes "$f.lmz")"
  size=$(stat -c %s "$f.lmz")
  xz_size=$(xz -9e -c "$f" | wc -c)
  [ "$((size * 3))" -lt "$((xz_size * 2))" ] || fail "$f: $size bytes at -5, xz -9e makes $xz_size"
done
modes filtered.bin.lmz | grep -q "inflated" && fail "filtered.bin: an inflated chunk: $(modes filtered.bin.lmz)"

# A damaged payload: refused, nothing written. The chunk's data starts after
# the 42-byte header and the frame's 22-byte table; byte 100 is in its coded bytes.
cp doc.pdf.lmz bad.lmz
printf '\377\377\377\377' | dd of=bad.lmz bs=1 seek=100 conv=notrunc 2>/dev/null
expect_rc 1 "damaged inflated chunk" "$LMZIP" -d -c bad.lmz > bad.out
expect_stderr "corrupt|does not decode|checksum" "damaged inflated chunk message"
[ ! -s bad.out ] || fail "damaged inflated chunk: $(stat -c %s bad.out) bytes written"

finish
