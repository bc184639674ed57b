# SPDX-License-Identifier: MIT
# Images and recordings are coded as pixels and samples (docs/format.md
# "Image and audio chunks"): alone, in a tar beside text, cut short, or
# behind a header that lies, every file comes back byte for byte.
# Usage: bash media.sh PATH_TO_LMZIP
set -u
source "$(dirname "$0")/assertions.bash"

# Synthetic but natural-looking content: smooth gradients with noise, and
# gliding tones with noise; fixed seeds.
python3 - <<'EOF' || fail "python3 could not write the test files"
import io, math, random, struct, tarfile
rnd = random.Random(5)
def image(w, h, c):
    return bytes(max(0, min(255, (x * 2 + y * 3 + k * 50 + (x * y) // 40) % 256 + rnd.randint(-2, 2)))
                 for y in range(h) for x in range(w) for k in range(c))
def tone(n, channels, bits):
    # Two gliding tones and noise: nothing repeats exactly, as in a recording.
    out = bytearray()
    for i in range(n):
        for c in range(channels):
            t = i / 22050
            v = int(6000 * math.sin(2 * math.pi * (220 + 30 * t + 5 * c) * t * (1 + 0.2 * t))
                    + 2500 * math.sin(2 * math.pi * 1330 * t + c) + rnd.gauss(0, 40))
            if bits == 8: out += bytes([128 + v // 256])
            elif bits == 16: out += struct.pack('<h', v)
            else: out += struct.pack('<i', v * 256 + rnd.randint(0, 255))[:3]
    return bytes(out)
def wav(n, channels, bits):
    data = tone(n, channels, bits)
    block = channels * bits // 8
    return (b'RIFF' + struct.pack('<I', 36 + len(data)) + b'WAVEfmt ' +
            struct.pack('<IHHIIHH', 16, 1, channels, 22050, 22050 * block, block, bits) +
            b'data' + struct.pack('<I', len(data)) + data)
ppm = b'P6\n160 120\n255\n' + image(160, 120, 3)
pgm = b'P5\n# grey\n200 100\n255\n' + image(200, 100, 1)
row = (90 * 3 + 3) & ~3
bmp_pixels = b''.join(image(90, 1, 3) + b'\0' * (row - 270) for _ in range(60))
bmp = (b'BM' + struct.pack('<IHHI', 54 + len(bmp_pixels), 0, 0, 54) +
       struct.pack('<IiiHHIIiiII', 40, 90, 60, 1, 24, 0, len(bmp_pixels), 2835, 2835, 0, 0) + bmp_pixels)
def aiff(n, channels):
    # 16-bit big-endian samples, the 80-bit sample rate 22050 Hz.
    data = b''.join(struct.pack('>h', v) for (v,) in struct.iter_unpack('<h', tone(n, channels, 16)))
    comm = struct.pack('>hIh', channels, n, 16) + bytes.fromhex('400DAC44000000000000')
    ssnd = struct.pack('>II', 0, 0) + data
    body = b'AIFF' + b'COMM' + struct.pack('>I', len(comm)) + comm + b'SSND' + struct.pack('>I', len(ssnd)) + ssnd
    return b'FORM' + struct.pack('>I', len(body)) + body
pgm16 = b'P5\n120 80\n65535\n' + b''.join(struct.pack('>H', (x * 300 + y * 500 + rnd.randint(0, 40)) % 65536)
                                          for y in range(80) for x in range(120))
files = {'photo.ppm': ppm, 'grey.pgm': pgm, 'pic.bmp': bmp, 'mono.wav': wav(20000, 1, 16),
         'stereo.wav': wav(12000, 2, 16), 'eight.wav': wav(15000, 1, 8), 'deep.wav': wav(8000, 2, 24),
         'tone.aiff': aiff(15000, 2), 'deep.pgm': pgm16}
for name, data in files.items():
    open(name, 'wb').write(data)
text = b''.join(b'line %d of a text file that sits beside the pictures\n' % i for i in range(1500))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
    for name, data in [('notes.txt', text)] + list(files.items()):
        info = tarfile.TarInfo(name); info.size = len(data); info.mtime = 1672531200
        t.addfile(info, io.BytesIO(data))
open('bundle.tar', 'wb').write(buf.getvalue())
open('cut.ppm', 'wb').write(ppm[:len(ppm) // 2 + 7])           # truncated mid-row
open('liar.pgm', 'wb').write(b'P5\n300 300\n255\n' + bytes(rnd.getrandbits(8) for _ in range(5000)))
open('shortwav.wav', 'wb').write(wav(20000, 1, 16)[:30001])     # odd byte count
EOF

for f in photo.ppm grey.pgm deep.pgm pic.bmp mono.wav stereo.wav eight.wav deep.wav tone.aiff bundle.tar cut.ppm liar.pgm shortwav.wav; do
  round_trips "$f" 1 5
done

# Alone, each is one image or audio chunk, far below its size and below xz's.
for f in photo.ppm grey.pgm deep.pgm pic.bmp; do
  modes "$f.lmz" | grep -q "image x1" || fail "$f: no image chunk: $(modes "$f.lmz")"
done
for f in mono.wav stereo.wav eight.wav deep.wav tone.aiff shortwav.wav; do
  modes "$f.lmz" | grep -q "audio x1" || fail "$f: no audio chunk: $(modes "$f.lmz")"
done
for f in photo.ppm grey.pgm deep.pgm pic.bmp mono.wav stereo.wav deep.wav tone.aiff; do
  size=$(stat -c %s "$f.lmz")
  xz_size=$(xz -9e -c "$f" | wc -c)
  [ "$size" -lt "$xz_size" ] || fail "$f: $size bytes at -5, xz -9e makes $xz_size"
done
# In a tar beside text: the images and recordings keep their codecs.
modes bundle.tar.lmz | grep -q "image x4" || fail "bundle.tar: not four image chunks: $(modes bundle.tar.lmz)"
modes bundle.tar.lmz | grep -q "audio x5" || fail "bundle.tar: not five audio chunks: $(modes bundle.tar.lmz)"
# Cut short: the whole rows are still pixels.
modes cut.ppm.lmz | grep -q "image x1" || fail "cut.ppm: no image chunk: $(modes cut.ppm.lmz)"
# A flipped byte in an image chunk's payload is found, named, and nothing is written.
offset=$(( $(stat -c %s photo.ppm.lmz) / 2 ))
cp photo.ppm.lmz bad.lmz
printf '\x5a' | dd of=bad.lmz bs=1 seek="$offset" conv=notrunc status=none
expect_rc 1 "corrupt image chunk" "$LMZIP" -d -c bad.lmz > bad.out
expect_stderr "corrupt|does not decode|checksum" "corrupt image chunk message"
[ ! -s bad.out ] || fail "corrupt image chunk: $(stat -c %s bad.out) bytes written"

finish
