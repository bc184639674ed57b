#!/usr/bin/env python3
"""Writes hostile .lmz files from a valid one: valid tables and checksums,
entries that declare far more than their payloads hold. They are regression
seeds (tests/fuzz/regressions/decompress/hostile-*.lmz): the decoder must
reject each quickly and in bounded memory (docs/reliability.md).

  tests/fuzz/craft_hostile.py VALID.lmz OUT_DIR

inflated: every coded chunk of each frame declares the frame's share of 64 MiB
          (at most 16 MiB) of bytes and as many symbols, over its own payload.
many:     one frame of 4,096 coded chunks (the format's most), each declaring
          16 KiB and 16,384 symbols over a 12-byte payload, in the mode of
          VALID's first coded chunk.
"""
import os
import struct
import sys
import zlib

FRAME_LIMIT, CHUNK_LIMIT, MAX_CHUNKS = 64 << 20, 16 << 20, 4096
HEADER = 42  # magic, version, flags, model id, crc


def end_block(size, frames):
    end = b'\x00' + struct.pack('<QQ', size, frames)
    return end + struct.pack('<I', zlib.crc32(end))


def frame(entries, payloads, crc=b'\0\0\0\0'):
    table = bytearray(b'\x01' + struct.pack('<I', len(entries)))
    for e in entries:
        table += struct.pack('<BIII', *e)
    table += struct.pack('<I', zlib.crc32(table))
    return bytes(table) + payloads + crc


def frames_of(data):
    """(entries, payloads, crc) of each frame of the first stream, and its first coded mode."""
    p, out, mode = HEADER, [], None
    while data[p] == 1:
        n = struct.unpack_from('<I', data, p + 1)[0]
        entries = [list(struct.unpack_from('<BIII', data, p + 5 + 13 * i)) for i in range(n)]
        p += 5 + 13 * n + 4
        size = sum(e[3] for e in entries)
        out.append((entries, data[p:p + size], data[p + size:p + size + 4]))
        p += size + 4
        mode = mode or next((e[0] for e in entries if e[0] != 0), None)
    return out, mode


def main():
    valid, out_dir = sys.argv[1], sys.argv[2]
    data = open(valid, 'rb').read()
    frames, mode = frames_of(data)
    if mode is None:
        sys.exit(f'{valid}: no coded chunk')
    inflated, total = bytearray(data[:HEADER]), 0
    for entries, payloads, crc in frames:
        coded = [e for e in entries if e[0] != 0]
        stored = sum(e[1] for e in entries if e[0] == 0)
        each = min(CHUNK_LIMIT, (FRAME_LIMIT - stored) // max(len(coded), 1))
        for e in coded:
            e[1] = e[2] = each
        inflated += frame(entries, payloads, crc)
        total += sum(e[1] for e in entries)
    inflated += end_block(total, len(frames))
    each = FRAME_LIMIT // MAX_CHUNKS
    body = bytes((i * 37 + 11) & 0xFF for i in range(MAX_CHUNKS * 12))
    many = data[:HEADER] + frame([(mode, each, each, 12)] * MAX_CHUNKS, body) + end_block(FRAME_LIMIT, 1)
    name = os.path.splitext(os.path.basename(valid))[0]
    for kind, bytes_ in (('inflated', inflated), ('many', many)):
        with open(os.path.join(out_dir, f'hostile-{kind}-{name}.lmz'), 'wb') as f:
            f.write(bytes_)


if __name__ == '__main__':
    main()
