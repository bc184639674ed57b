#!/usr/bin/python3
"""Compare lmzip with the classic compressors on the benchmark corpus.

For every file and every compressor: compress from stdin to a file, decompress
it back, check the bytes are identical, and record the compressed size, wall
time both ways and each process's peak resident memory. Writes a Markdown
report (per group and per file) and a PNG chart of bits per byte against
compression speed.

    bench/compare.py                       # levels 1,5,9 + classic tools, whole corpus
    bench/compare.py --quick               # small text files only
    bench/compare.py --levels 5 --files canterbury/alice29.txt large/bible.txt
    bench/compare.py --model some.lmzm     # every level with -m some.lmzm
    bench/compare.py --media-groups binary,images,audio   # media folders beside the corpus
    bench/compare.py --no-corpus --media-groups images,audio --patches --report media-codecs
                                           # images and audio with PNG, WebP, JPEG XL, FLAC, WavPack,
                                           # and the paper's 2048-byte patches coded alone

Exit status: 0 all round trips byte-exact; 1 a round trip failed; 2 none
failed but a compressor could not run (tool not installed, no lmzip model).
See bench/README.md.
"""

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import struct
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path("/work/shared/corpus/bench")
# Media bench files (../shared/corpus/media/README.md): each folder is a group
# of its own, "media-binary" and so on, beside the corpus's text and binary.
DEFAULT_MEDIA = Path("/work/shared/corpus/media/bench")
MEDIA_FOLDERS = ("binary", "images", "audio")

# Binary files of the Canterbury and Calgary corpora; everything else is text.
BINARY_NAMES = {"kennedy.xls", "ptt5", "sum", "obj1", "obj2", "geo", "pic"}
GNU_TIME = "/usr/bin/time"  # for peak memory (Debian package "time")
QUICK_MAX_BYTES = 50_000  # --quick keeps text files up to this size

# (label, compress argv, decompress argv); all read stdin and write stdout.
CLASSIC_TOOLS = [
    ("gzip -9", ["gzip", "-9", "-c"], ["gzip", "-d", "-c"]),
    ("bzip2 -9", ["bzip2", "-9", "-c"], ["bzip2", "-d", "-c"]),
    ("xz -9e", ["xz", "-9e", "-c"], ["xz", "-d", "-c"]),
    ("zstd -19 --long=27", ["zstd", "-19", "--long=27", "-q", "-c"], ["zstd", "-d", "--long=27", "-q", "-c"]),
    ("brotli -q 11 -w 24", ["brotli", "-q", "11", "-w", "24", "-c"], ["brotli", "-d", "-c"]),
]

# Codecs for one kind of media, as ../shared/corpus/media/README.md measures them ("Reference
# sizes of classic codecs"): whole output files, headers included. Not in scripts/setup.sh:
# `apt-get install optipng webp libjxl-tools flac wavpack` (bench/README.md).
# (label, compress argv, decompress argv or None, groups, check, suffix, decompressed suffix);
# {in} and {out} stand for the files of a tool that names them.
IMAGES, AUDIO = ("media-images",), ("media-audio",)
MEDIA_TOOLS = [
    ("optipng -o7", ["optipng", "-quiet", "-o7", "-out", "{out}", "{in}"], None, IMAGES, "pixels", ".png", ""),
    ("cwebp -lossless -z 9", ["cwebp", "-quiet", "-lossless", "-z", "9", "{in}", "-o", "{out}"],
     ["dwebp", "-quiet", "{in}", "-ppm", "-o", "{out}"], IMAGES, "pixels", ".webp", ".ppm"),
    ("cjxl -d 0 -e 9", ["cjxl", "-d", "0", "-e", "9", "--quiet", "{in}", "{out}"],
     ["djxl", "--quiet", "{in}", "{out}"], IMAGES, "pixels", ".jxl", ""),
    ("flac -8", ["flac", "-s", "-8", "--no-padding", "-f", "-o", "{out}", "{in}"],
     ["flac", "-s", "-d", "-f", "-o", "{out}", "{in}"], AUDIO, "samples", ".flac", ".wav"),
    ("wavpack -hhx6", ["wavpack", "-q", "-hhx6", "-y", "{in}", "-o", "{out}"],
     ["wvunpack", "-q", "-y", "{in}", "-o", "{out}"], AUDIO, "bytes", ".wv", ".wav"),
    # The media README's zstd column: without --long (the files are under 1 MiB), and from the
    # file, so that the frame header holds the content size (from stdin it does not).
    ("zstd -19", ["zstd", "-19", "-q", "-c", "{in}"], ["zstd", "-d", "-q", "-c"], IMAGES + AUDIO, "bytes", "", ""),
]


@dataclass
class Compressor:
    label: str
    compress: list
    decompress: list
    model_path: str = ""  # the .lmzm used; empty for classic tools
    model_bytes: int = 0  # counted in the adjusted ratio
    model_id: str = ""
    model_name: str = ""  # the name stored in the model file
    # Which groups it runs on; empty: every group. Media codecs run on their media group only.
    groups: tuple = ()
    # How the decompressed output is checked: "bytes" (identical), "pixels" (the same
    # image: a codec may store a grey PNM as RGB, so PNM headers need not match),
    # "samples" (the same WAV samples, rate and channels).
    check: str = "bytes"
    suffix: str = ""  # of the compressed file, for tools that look at names (".png")
    unpacked_suffix: str = ""  # of the decompressed file (djxl picks PGM or PPM by it)
    cacheable: bool = False  # media codecs: sizes and times may come from the cache
    version: str = ""  # the tool's version line, part of the cache key

    def runs_on(self, group):
        return not self.groups or group in self.groups


@dataclass
class BenchFile:
    name: str  # shown in the tables: path relative to the corpus, or as given
    path: Path
    size: int
    group: str  # "text", "binary", or "media-" and the media folder
    digest: str = ""  # SHA-256 of the bytes (the cache key's part)
    aliases: list = field(default_factory=list)  # identical files run only once


@dataclass
class Result:
    file: BenchFile
    compressor: Compressor
    compressed: int = 0
    compress_s: float = 0.0
    decompress_s: float = 0.0
    compress_kib: int = None  # peak RSS; None without GNU time
    decompress_kib: int = None
    error: str = ""  # empty when the round trip was byte-exact
    cached: bool = False  # taken from the results cache, not run now
    container: int = None  # PNG and FLAC: the output's bytes outside the coded pixels/samples


# ---------------------------------------------------------------- running

def run_measured(argv, stdin_path, stdout_path, stderr_path):
    """Runs argv with files on stdin/stdout; returns (exit code, seconds, peak RSS KiB or None).

    stdin_path None: /dev/null (tools that name their input and output files).
    The peak memory comes from GNU time (-f %M), which forks from its own small
    process: rusage taken by Python itself would include the RSS of the forked
    Python interpreter (about 18 MiB), which exec does not reset.
    """
    mem_file = Path(str(stderr_path) + ".mem")
    prefix = [GNU_TIME, "-f", "%M", "-o", str(mem_file)] if Path(GNU_TIME).is_file() else []
    with open(stdin_path or os.devnull, "rb") as fin, open(stdout_path, "wb") as fout, \
            open(stderr_path, "wb") as ferr:
        start = time.perf_counter()
        code = subprocess.run(prefix + argv, stdin=fin, stdout=fout, stderr=ferr).returncode
        seconds = time.perf_counter() - start
    peak = None
    if prefix:
        # The last line is the number; a failed command adds a line before it.
        lines = mem_file.read_text().split()
        peak = int(lines[-1]) if lines and lines[-1].isdigit() else None
    return code, seconds, peak


def same_bytes(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


# ---------------------------------------------------------------- images and sounds

def read_pnm(data):
    """(width, height, channels, pixel bytes) of a binary PGM (P5) or PPM (P6), 8-bit."""
    fields, pos = [], 2
    if data[:2] not in (b"P5", b"P6"):
        raise ValueError("not a binary PGM/PPM")
    while len(fields) < 3:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while data[pos:pos + 1].isdigit():
            pos += 1
        fields.append(int(data[start:pos]))
    width, height, maxval = fields
    if maxval != 255:
        raise ValueError(f"maxval {maxval}, only 8-bit PNM is read")
    channels = 1 if data[:2] == b"P5" else 3
    pixels = data[pos + 1:pos + 1 + width * height * channels]
    if len(pixels) != width * height * channels:
        raise ValueError("PNM shorter than its header says")
    return width, height, channels, pixels


def rgb_of(channels, pixels):
    """The pixels as RGB bytes (a grey value repeated three times)."""
    if channels == 3:
        return bytes(pixels)
    out = bytearray(len(pixels) * 3)
    out[0::3] = out[1::3] = out[2::3] = pixels
    return bytes(out)


def read_png(data):
    """(width, height, RGB bytes) of a non-interlaced PNG without alpha (what optipng
    writes from a PNM): grey or RGB at 8 bits, grey at 1-8 bits, or a palette."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, palette = 8, [], None
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
            depth, ctype, interlace = body[8], body[9], body[12]
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if interlace or ctype not in (0, 2, 3) or (ctype == 2 and depth != 8):
        raise ValueError(f"PNG colour type {ctype}, depth {depth}, interlace {interlace}: not read here")
    raw = zlib.decompress(b"".join(idat))
    samples = 3 if ctype == 2 else 1
    bpp = max(1, samples * depth // 8)  # bytes a filter looks back
    stride = (width * samples * depth + 7) // 8
    rows, prev, pos = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif ftype == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif ftype != 0:
            raise ValueError(f"PNG filter {ftype}")
        rows.append(bytes(line))
        prev = line
    if depth < 8:  # unpack 1, 2 or 4-bit values, most significant first
        per, mask = 8 // depth, (1 << depth) - 1
        rows = [bytes((row[i // per] >> (8 - depth * (i % per + 1))) & mask for i in range(width))
                for row in rows]
    flat = b"".join(rows)
    if ctype == 2:
        return width, height, flat
    if ctype == 3:
        return width, height, b"".join(palette[3 * v:3 * v + 3] for v in flat)
    scale = 255 // ((1 << depth) - 1)
    return width, height, rgb_of(1, bytes(v * scale for v in flat) if depth < 8 else flat)


def read_image(data):
    """(width, height, RGB bytes) of a PNM or PNG."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return read_png(data)
    width, height, channels, pixels = read_pnm(data)
    return width, height, rgb_of(channels, pixels)


def read_wav(data):
    """(channels, rate, bits, sample bytes) of a PCM WAV."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF WAVE file")
    pos, fmt, samples = 12, None, None
    while pos + 8 <= len(data):
        kind, length = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        body = data[pos + 8:pos + 8 + length]
        if kind == b"fmt ":
            fmt = (int.from_bytes(body[2:4], "little"), int.from_bytes(body[4:8], "little"),
                   int.from_bytes(body[14:16], "little"))
        elif kind == b"data":
            samples = body
        pos += 8 + length + (length & 1)
    if fmt is None or samples is None:
        raise ValueError("WAV without fmt or data chunk")
    return fmt + (samples,)


def same_content(check, original, decoded):
    """Whether the decoded file holds what the original does; "" if so, else why not."""
    if check == "bytes":
        return "" if same_bytes(original, decoded) else "decompressed bytes differ from the original"
    a, b = Path(original).read_bytes(), Path(decoded).read_bytes()
    try:
        same = (read_image(a) == read_image(b)) if check == "pixels" else (read_wav(a) == read_wav(b))
    except (ValueError, IndexError, NameError, zlib.error) as e:  # NameError: a PNG without IHDR
        return f"decoded file not read: {e}"
    return "" if same else f"decoded {check} differ from the original"


def container_bytes(path):
    """The bytes of a PNG or FLAC file that are container, not coded data (None for other
    files): PNG: all but the IDAT chunks' payloads (signature, IHDR, PLTE, IEND, chunk
    lengths and CRCs); FLAC: "fLaC" and the metadata blocks (STREAMINFO, seek table,
    Vorbis comment), not the frame headers."""
    data = Path(path).read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        pos, payload = 8, 0
        while pos + 8 <= len(data):
            length = int.from_bytes(data[pos:pos + 4], "big")
            if data[pos + 4:pos + 8] == b"IDAT":
                payload += length
            pos += 12 + length
        return len(data) - payload
    if data[:4] == b"fLaC":
        pos = 4
        while pos + 4 <= len(data):
            last, length = data[pos] & 128, int.from_bytes(data[pos + 1:pos + 4], "big")
            pos += 4 + length
            if last:
                return pos
    return None


# ---------------------------------------------------------------- results cache

def cache_key(comp, bfile):
    text = "\0".join([comp.label, comp.version, " ".join(comp.compress), " ".join(comp.decompress or []),
                      comp.check, bfile.digest or sha256_file(bfile.path)])
    return hashlib.sha256(text.encode()).hexdigest()


def cache_load(cache_dir, comp, bfile):
    if not cache_dir:
        return None
    path = Path(cache_dir) / (cache_key(comp, bfile) + ".json")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if comp.suffix in (".png", ".flac") and data.get("container") is None:
        return None  # cached before container bytes were counted
    res = Result(bfile, comp, cached=True)
    for name in ("compressed", "compress_s", "decompress_s", "compress_kib", "decompress_kib"):
        setattr(res, name, data[name])
    res.container = data.get("container")
    return res


def cache_store(cache_dir, res):
    if not cache_dir or res.error:
        return
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    path = Path(cache_dir) / (cache_key(res.compressor, res.file) + ".json")
    data = {name: getattr(res, name) for name in
            ("compressed", "compress_s", "decompress_s", "compress_kib", "decompress_kib", "container")}
    data["file"], data["compressor"] = res.file.name, res.compressor.label
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


# ---------------------------------------------------------------- round trips

def fill(argv, **names):
    return [a.format(**names) if "{" in a else a for a in argv]


def round_trip(comp, bfile, workdir, cache_dir=None):
    """Compresses and decompresses one file; the result carries any failure.

    A command with {in} and {out} in its arguments names its files (optipng, cwebp,
    cjxl, flac, wavpack); the others read stdin and write stdout. A compressor with
    no decompress command (optipng: there is no PNG-to-PNM tool among them) is
    checked by decoding its output here, untimed.
    """
    cache_dir = cache_dir if comp.cacheable else None
    cached = cache_load(cache_dir, comp, bfile)
    if cached:
        return cached
    res = Result(bfile, comp)
    packed = workdir / ("packed" + comp.suffix)
    unpacked = workdir / ("unpacked" + (comp.unpacked_suffix or bfile.path.suffix))
    out, err = workdir / "stdout", workdir / "stderr"
    for stale in (packed, unpacked):
        if stale.exists():
            stale.unlink()
    names = {"in": str(bfile.path), "out": str(packed)}
    if "{in}" in " ".join(comp.compress):  # without {out}, the tool writes stdout
        code, res.compress_s, res.compress_kib = run_measured(
            fill(comp.compress, **names), None, packed if "{out}" not in " ".join(comp.compress) else out, err)
    else:
        code, res.compress_s, res.compress_kib = run_measured(comp.compress, bfile.path, packed, err)
    if code != 0 or not packed.is_file():
        res.error = f"compress exit {code}: {err.read_text(errors='replace').strip()[:200]}"
        return res
    res.compressed = packed.stat().st_size
    if comp.suffix in (".png", ".flac"):
        res.container = container_bytes(packed)
    if comp.decompress:
        names = {"in": str(packed), "out": str(unpacked)}
        if "{in}" in " ".join(comp.decompress):
            code, res.decompress_s, res.decompress_kib = run_measured(
                fill(comp.decompress, **names), None, out, err)
        else:
            code, res.decompress_s, res.decompress_kib = run_measured(comp.decompress, packed, unpacked, err)
        if code != 0:
            res.error = f"decompress exit {code}: {err.read_text(errors='replace').strip()[:200]}"
            return res
    else:
        unpacked, res.decompress_s = packed, None  # decoded below, in Python
    res.error = same_content(comp.check, bfile.path, unpacked)
    cache_store(cache_dir, res)
    return res


# ---------------------------------------------------------------- lmzip models

def model_search_dirs(lmzip):
    """The folders lmzip searches, in its order (docs/model-format.md "Finding models")."""
    dirs = [d for d in os.environ.get("LMZIP_MODEL_PATH", "").split(":") if d]
    program_dir = Path(lmzip).resolve().parent
    dirs += [program_dir / "models", program_dir.parent / "share" / "lmzip" / "models", REPO / "models"]
    return [Path(d) for d in dirs]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_model_file(lmzip, short_id, explicit):
    """The .lmzm whose SHA-256 (= its model id) starts with short_id, or None."""
    candidates = [Path(explicit)] if explicit else []
    for d in model_search_dirs(lmzip):
        if d.is_dir():
            candidates += sorted(d.glob("*.lmzm"))
    for path in candidates:
        digest = sha256_file(path)
        if digest.startswith(short_id):
            return path, digest
    return None, ""


def probe_level(lmzip, level, model):
    """Compresses empty input at a level; returns (model name, short id) from -v, or an error text."""
    argv = [lmzip, f"-{level}", "-v", "-c"] + (["-m", model] if model else [])
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    # "lmzip: stdin: - (0 => 63 bytes, 0.00 bits/byte), model NAME 1a2b3c4d..."
    match = re.search(r", model (?:(.*) )?([0-9a-f]{8})\.\.\.\s*$", proc.stderr, re.M)
    if proc.returncode != 0 or not match:
        return None, proc.stderr.strip() or f"exit {proc.returncode}"
    return (match.group(1) or "", match.group(2)), ""


def lmzip_compressors(lmzip, levels, model):
    """One Compressor per level: a level picks the model and, within its group,
    the chunk length, so each level writes different bytes."""
    comps, problems, files = [], [], {}
    for level in levels:
        found, error = probe_level(lmzip, level, model)
        if not found:
            problems.append(f"lmzip -{level}: {error}")
            continue
        name, short_id = found
        if short_id not in files:
            files[short_id] = find_model_file(lmzip, short_id, model)
            if files[short_id][0] is None:
                problems.append(f"model {short_id} (level {level}) not found as a file; "
                                "adjusted ratio counts it as 0 bytes")
        path, digest = files[short_id]
        extra = ["-m", model] if model else []
        # Name the model by its file (fast.lmzm, ...): the name stored inside may repeat.
        shown = path.name if path else (name or "model")
        comps.append(Compressor(
            label=f"lmzip -{level} ({shown} {short_id})",
            compress=[lmzip, f"-{level}", "-T0", "-c"] + extra,
            decompress=[lmzip, "-d", "-T0", "-c"] + extra,
            model_path=str(path or ""),
            model_bytes=path.stat().st_size if path else 0,
            model_id=digest or short_id,
            model_name=name))
    return comps, problems


def tool_version(tool):
    """The first line of a tool's version message ("" if it does not run)."""
    flag = "-version" if tool in ("cwebp", "dwebp") else "--version"
    try:
        proc = subprocess.run([tool, flag], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError:
        return ""
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0].strip("* ") if text else "?"


def classic_compressors(groups):
    """The classic tools for every group, then the media codecs of the groups being run."""
    comps, problems = [], []
    wanted = [(label, comp, decomp, (), "bytes", "", "") for label, comp, decomp in CLASSIC_TOOLS]
    wanted += [t for t in MEDIA_TOOLS if any(g in groups for g in t[3])]
    for label, comp, decomp, only, check, suffix, unpacked_suffix in wanted:
        missing = [t for t in dict.fromkeys([comp[0]] + ([decomp[0]] if decomp else [])) if not shutil.which(t)]
        if missing:
            problems.append(f"{', '.join(missing)} not installed: {label} skipped "
                            "(apt-get install, see bench/README.md)")
            continue
        # Only the media codecs are cached: the others are quick, and xz -9e's speed on the
        # text group is the gauge of the machine (bench/README.md), so they always run.
        comps.append(Compressor(label, comp, decomp, groups=only, check=check, suffix=suffix,
                                unpacked_suffix=unpacked_suffix, cacheable=bool(only),
                                version=" / ".join(tool_version(t) for t in
                                                   dict.fromkeys([comp[0]] + ([decomp[0]] if decomp else [])))))
    return comps, problems


# ---------------------------------------------------------------- files

def collect_files(args):
    """The files to run, deduplicated by content (pic and ptt5 are the same bytes)."""
    corpus = Path(args.corpus)
    wanted = list(args.files or [])
    if args.no_corpus:
        paths = []
    elif wanted:
        paths = []
        for name in wanted:
            p = Path(name)
            if not p.is_file() and (corpus / name).is_file():
                p = corpus / name
            if not p.is_file():
                sys.exit(f"compare.py: {name}: no such file (also looked in {corpus})")
            paths.append(p)
    else:
        paths = sorted(p for p in corpus.rglob("*") if p.is_file())
        if not paths:
            sys.exit(f"compare.py: no files under {corpus}")

    files, by_digest = [], {}
    for p in paths:
        try:
            name = str(p.resolve().relative_to(corpus.resolve()))
        except ValueError:
            name = str(p)
        digest = sha256_file(p)
        if digest in by_digest:
            by_digest[digest].aliases.append(name)
            continue
        group = "binary" if p.name in BINARY_NAMES else "text"
        bf = BenchFile(name, p, p.stat().st_size, group, digest=digest)
        by_digest[digest] = bf
        files.append(bf)
    if not wanted and not args.quick:
        for folder in args.media_groups:
            media = Path(args.media) / folder
            if not media.is_dir():
                sys.exit(f"compare.py: --media-groups {folder}: no folder {media}")
            for p in sorted(q for q in media.rglob("*") if q.is_file()):
                digest = sha256_file(p)
                if digest in by_digest:
                    by_digest[digest].aliases.append(f"media/{folder}/{p.name}")
                    continue
                bf = BenchFile(f"media/{folder}/{p.relative_to(media)}", p, p.stat().st_size, f"media-{folder}",
                               digest=digest)
                by_digest[digest] = bf
                files.append(bf)
    if not files:
        sys.exit("compare.py: no files to run (--no-corpus with --media-groups none?)")
    if args.quick:
        files = [f for f in files if f.group == "text" and f.size <= QUICK_MAX_BYTES]
        if not files:
            sys.exit(f"compare.py: --quick: no text files of at most {QUICK_MAX_BYTES} bytes")
    return files


# ---------------------------------------------------------------- the paper's patches

PATCH_BYTES = 2048
PATCH_W, PATCH_H = 64, 32  # image patches: 64 pixels wide, 32 rows high
PATCH_SAMPLES = 1024  # audio patches: 16-bit mono samples
PAPER = {  # "Language Modeling is Compression", Table 1 (raw compression rates)
    "media-images": "ImageNet patches: Chinchilla 70B 48.0%, PNG 58.5%",
    "media-audio": "LibriSpeech patches: Chinchilla 70B 21.0%, FLAC 30.9%",
}


def grey_of(channels, pixels):
    """Grey bytes: BT.601 in fixed point, as PIL's convert('L') and the media corpus's box:K:pgm."""
    if channels == 1:
        return bytes(pixels)
    return bytes((19595 * r + 38470 * g + 7471 * b + 32768) >> 16
                 for r, g, b in zip(pixels[0::3], pixels[1::3], pixels[2::3]))


def pick(rng, count, n):
    """n of range(count) drawn without replacement, in ascending order."""
    return sorted(rng.sample(range(count), min(n, count)))


def image_patches(path, n, seed):
    """[(label, 2048 grey bytes)]: n of the image's 64x32 tiles (a grid from the top-left
    corner; the right and bottom remainders are never used), drawn with random.Random
    seeded by "SEED:FILE NAME"; each flattened row by row."""
    width, height, channels, pixels = read_pnm(Path(path).read_bytes())
    grey = grey_of(channels, pixels)
    across, down = width // PATCH_W, height // PATCH_H
    out = []
    for tile in pick(random.Random(f"{seed}:{Path(path).name}"), across * down, n):
        x, y = PATCH_W * (tile % across), PATCH_H * (tile // across)
        rows = [grey[(y + j) * width + x:(y + j) * width + x + PATCH_W] for j in range(PATCH_H)]
        out.append((f"x{x}y{y}", b"".join(rows)))
    return out


def audio_patches(path, n, seed):
    """[(label, 2048 bytes)]: n windows of 1024 samples of the recording's first channel
    (16-bit little-endian; a grid from sample 0), drawn as image_patches draws tiles.
    Returns the rate too."""
    channels, rate, bits, data = read_wav(Path(path).read_bytes())
    if bits != 16:
        raise ValueError(f"{path}: {bits}-bit WAV, patches need 16-bit")
    frame = 2 * channels
    mono = bytearray(len(data) // frame * 2)
    mono[0::2], mono[1::2] = data[0:len(mono) // 2 * frame:frame], data[1:len(mono) // 2 * frame:frame]
    windows = len(mono) // PATCH_BYTES
    out = [(f"s{PATCH_SAMPLES * w}", bytes(mono[PATCH_BYTES * w:PATCH_BYTES * (w + 1)]))
           for w in pick(random.Random(f"{seed}:{Path(path).name}"), windows, n)]
    return out, rate


def pgm_file(patch):
    return f"P5\n{PATCH_W} {PATCH_H}\n255\n".encode() + patch


def wav_file(patch, rate):
    """A canonical 44-byte-header WAV: mono, 16-bit, the recording's rate."""
    return (b"RIFF" + struct.pack("<I", 36 + len(patch)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16) +
            b"data" + struct.pack("<I", len(patch)) + patch)


def patch_rows(lmzips, classic, group):
    """[(compressor, input)] for a group's patch table: input "raw" (the 2048 bytes) or
    "PGM"/"WAV" (the patch as a headered file)."""
    kind = "PGM" if group == "media-images" else "WAV"
    codec = "optipng -o7" if group == "media-images" else "flac -8"
    rows = [(c, kind) for c in lmzips] + [(c, "raw") for c in lmzips]
    rows += [(c, kind) for c in classic if c.label == codec]
    rows += [(c, "raw") for c in classic if c.label in ("gzip -9", "xz -9e")]
    return rows


def run_patches(args, media_files, lmzips, classic, workdir):
    """Codes every patch alone; returns (report lines, failures)."""
    pdir = workdir / "patches"
    pdir.mkdir()
    # {group: [(media file, [(patch BenchFile headered, patch BenchFile raw)])]}
    plan, notes = {}, []
    for f in media_files:
        if f.group not in ("media-images", "media-audio"):
            continue
        if f.group == "media-images":
            patches, rate, suffix = image_patches(f.path, args.patch_count, args.patch_seed), None, ".pgm"
        else:
            patches, rate = audio_patches(f.path, args.patch_count, args.patch_seed)
            suffix = ".wav"
        if len(patches) < args.patch_count:
            notes.append(f"{f.name}: {len(patches)} patches only (all it has)")
        pairs = []
        stem = Path(f.name).stem
        for label, patch in patches:
            whole = pgm_file(patch) if suffix == ".pgm" else wav_file(patch, rate)
            bfs = []
            for kind, data, ext in (("file", whole, suffix), ("raw", patch, ".raw")):
                path = pdir / f"{stem}-{label}{ext}"
                path.write_bytes(data)
                bfs.append(BenchFile(f"{f.name}@{label}{ext}", path, PATCH_BYTES, f.group,
                                     digest=hashlib.sha256(data).hexdigest()))
            pairs.append(bfs)
        plan.setdefault(f.group, []).append((f, pairs))

    results, failures = {}, []  # {(group, row index, file name): [Result]}
    for group, per_file in plan.items():
        rows = patch_rows(lmzips, classic, group)
        for i, (comp, kind) in enumerate(rows):
            # Patches report no times: every classic tool's result may come from the cache.
            run_comp = comp if comp.model_id else dataclasses.replace(comp, cacheable=True)
            for f, pairs in per_file:
                rs = []
                for headered, raw in pairs:
                    res = round_trip(run_comp, raw if kind == "raw" else headered, workdir, args.cache)
                    rs.append(res)
                    if res.error:
                        failures.append(res)
                results[(group, i, f.name)] = rs
                ok = all(not r.error for r in rs)
                total = sum(r.compressed for r in rs)
                state = f"{100 * total / (PATCH_BYTES * len(rs)):.1f}%" if ok else "FAIL"
                print(f"patches {f.name} x{len(rs)} {comp.label} on {kind}: {state}",
                      file=sys.stderr, flush=True)

    lines = ["## The paper's setting: 2048-byte patches coded alone", "",
             f"As \"Language Modeling is Compression\" (Delétang et al.): from each image, "
             f"{args.patch_count} grey patches of 64 pixels wide by 32 rows high (2048 bytes, row by "
             "row); RGB turned grey with `(19595*R + 38470*G + 7471*B + 32768) >> 16` (BT.601, PIL's "
             f"`convert('L')`); from each recording, {args.patch_count} windows of 1024 16-bit "
             "samples (2048 bytes, little-endian) of the first channel (stereo files: the left). "
             "Patches do not overlap: they are tiles of a grid from the top-left corner (sample 0), "
             f"drawn without replacement by Python's `random.Random(\"{args.patch_seed}:FILE\")` "
             "(`--patch-seed`, `--patch-count`). Each patch is coded alone, as "
             "the raw 2048 bytes (`raw`) or as a file of its own (`PGM`: `P5\\n64 32\\n255\\n` "
             "and the bytes; `WAV`: a 44-byte header, mono, 16-bit, the recording's rate, and the "
             "samples). Raw ratio = sum of compressed sizes / sum of 2048 bytes, lower is better. "
             "Whole output files are counted, with their headers and container overhead (lmzip's "
             "header; PNG's signature, IHDR and IEND chunks; FLAC's `fLaC`, STREAMINFO, seek table and "
             "Vorbis comment): at 2048 bytes these weigh a few percent. Every output is decoded and "
             "checked (PNG: same pixels; FLAC: same samples; the others: same bytes).", ""]
    ncached = sum(r.cached for rs in results.values() for r in rs)
    if ncached:
        notes.append(f"{ncached} patch results of classic tools came from the results cache ({args.cache}).")
    for note in notes:
        lines.append(f"- **Note:** {note}")
    if notes:
        lines.append("")
    lines += ["| group | compressor | input | patches | raw bytes | compressed | raw ratio | bits/byte "
              "| container bytes a patch | raw ratio less container |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for group, per_file in plan.items():
        for i, (comp, kind) in enumerate(patch_rows(lmzips, classic, group)):
            rs = [r for f, _ in per_file for r in results[(group, i, f.name)]]
            raw = PATCH_BYTES * len(rs)
            packed = sum(r.compressed for r in rs)
            ok = all(not r.error for r in rs)
            known = ok and all(r.container is not None for r in rs)
            container = sum(r.container for r in rs) if known else None
            lines.append(f"| {group} | {comp.label} | {kind} | {len(rs)} | {raw:,} | {packed:,} | "
                         f"{f'{100 * packed / raw:.1f}%' if ok else 'FAIL'} | "
                         f"{f'{8 * packed / raw:.3f}' if ok else 'FAIL'} | "
                         f"{f'{container / len(rs):.1f}' if known else '-'} | "
                         f"{f'{100 * (packed - container) / raw:.1f}%' if known else '-'} |")
    lines.append("")
    lines.append("Container bytes are counted for PNG (all but the IDAT payloads: signature, IHDR, "
                 "IEND, a PLTE if any, chunk lengths and CRCs) and FLAC (`fLaC` and the metadata blocks: "
                 "STREAMINFO, seek table, Vorbis comment; not the frame headers). For scale, the others' "
                 "fixed costs: gzip -9 wraps 2048 random bytes in 2,071, xz -9e in 2,108; lmzip writes "
                 "63 bytes for empty input (`lmzip -1 -c < /dev/null | wc -c`).")
    lines.append("")
    lines.append("The paper's figures, for comparison (other data: ImageNet and LibriSpeech, and a "
                 "70-billion-parameter model): " + "; ".join(PAPER[g] for g in plan) + ".")
    lines.append("")
    for group, per_file in plan.items():
        rows = patch_rows(lmzips, classic, group)
        lines += [f"### {group} patches: raw ratio by file", "",
                  "| file | patches | " + " | ".join(f"{c.label} ({k})" for c, k in rows) + " |",
                  "|---|---:|" + "---:|" * len(rows)]
        for f, pairs in per_file:
            cells = []
            for i in range(len(rows)):
                rs = results[(group, i, f.name)]
                ok = all(not r.error for r in rs)
                cells.append(f"{100 * sum(r.compressed for r in rs) / (PATCH_BYTES * len(rs)):.1f}%"
                             if ok else "FAIL")
            lines.append(f"| {f.name} | {len(pairs)} | " + " | ".join(cells) + " |")
        lines.append("")
    if failures:
        lines += ["### Patch round-trip failures", ""]
        lines += [f"- {r.file.name}, {r.compressor.label}: {r.error}" for r in failures]
        lines.append("")
    return lines, failures


# ---------------------------------------------------------------- summaries

def kb_per_s(nbytes, seconds):
    return nbytes / 1000 / seconds if seconds > 0 else float("inf")


def peak_mib(kib_values):
    known = [v for v in kib_values if v is not None]
    return max(known) / 1024 if known else None


def summarize(results, comp, model_bytes):
    """Totals over results of one compressor (the model is counted once)."""
    orig = sum(r.file.size for r in results)
    packed = sum(r.compressed for r in results)
    ok = all(not r.error for r in results)
    return {
        "files": len(results),
        "bytes": orig,
        "compressed": packed,
        "bpb": 8 * packed / orig if orig and ok else None,
        "pct": 100 * packed / orig if orig and ok else None,  # % of raw
        "ckbs": kb_per_s(orig, sum(r.compress_s for r in results)),
        # None where the decoding was not timed (optipng's PNG is decoded by this script)
        "dkbs": None if any(r.decompress_s is None for r in results) else
        kb_per_s(orig, sum(r.decompress_s for r in results)),
        "cmem": peak_mib(r.compress_kib for r in results),
        "dmem": peak_mib(r.decompress_kib for r in results),
        "ratio": orig / packed if packed and ok else None,
        "adjusted": orig / (packed + model_bytes) if packed and ok else None,
        "ok": ok,
    }


def group_summaries(results, comps):
    """{group: {compressor label: summary}} for text, binary, each media group and all.

    "all" has only the compressors run on every group (not the media codecs)."""
    out = {}
    for group in ("text", "binary") + tuple(f"media-{m}" for m in MEDIA_FOLDERS) + ("all",):
        per = {}
        for comp in comps:
            if group == "all" and comp.groups:
                continue
            rs = [r for r in results if r.compressor is comp and group in ("all", r.file.group)]
            if rs:
                per[comp.label] = summarize(rs, comp, comp.model_bytes)
        if per:
            out[group] = per
    return out


# ---------------------------------------------------------------- report

def mib(value):
    return "-" if value is None else f"{value:.1f}"


def speed(value):
    return "-" if value is None else f"{value:.1f}"


def fmt(value, spec):
    return "FAIL" if value is None else format(value, spec)


def machine_line(lmzip, comps):
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        version = subprocess.run([lmzip, "-V"], capture_output=True, text=True).stdout.strip()
    except OSError:
        version = "lmzip not run"
    models = "; ".join(f"{c.label}: id {c.model_id[:16]}, name {c.model_name or '?'}, "
                       f"file {c.model_path or '?'}, {c.model_bytes:,} bytes"
                       for c in comps if c.model_id) or "none"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores (load {load}), {platform.system()} {platform.release()}, "
            f"{now}; {version}; models: {models}")


def tool_versions(comps):
    seen, lines = set(), []
    for comp in comps:
        if comp.model_id or comp.compress[0] in seen:
            continue
        seen.add(comp.compress[0])
        lines.append(f"{comp.compress[0]}: {comp.version or tool_version(comp.compress[0])}")
    return "; ".join(lines)


def find_result(results, f, c):
    return next((r for r in results if r.file is f and r.compressor is c), None)


def pct_cell(r):
    """A media table's cell: % of raw (compressed bytes), as in the media README."""
    if r is None:
        return "-"
    if r.error:
        return "FAIL"
    return f"{100 * r.compressed / r.file.size:.1f}% ({r.compressed:,})" if r.file.size else "-"


def write_markdown(path, args, files, comps, results, groups, problems, chart_name, patch_lines=(),
                   all_comps=()):
    lines = ["# lmzip against classic compressors", ""]
    lines.append(f"Machine: {machine_line(args.lmzip, all_comps or comps)}")
    lines.append("")
    lines.append(f"Tools: {tool_versions(all_comps or comps)}")
    lines.append("")
    lines.append(f"Command: `{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}`; corpus "
                 f"{'none' if args.no_corpus else args.corpus}; media {args.media} "
                 f"({', '.join(args.media_groups) or 'none'}); "
                 f"{len(files)} files, {sum(f.size for f in files):,} bytes.")
    lines.append("")
    lines.append("KB/s = 1000 bytes of original per second of wall time (process start to exit, "
                 "start-up included: loading a model and its self-test). Memory = peak RSS of the "
                 "process (GNU time %M). % of raw = compressed / original. Ratio = original / compressed. "
                 "Adjusted ratio = original / (compressed + "
                 "model file size), as in \"Language Modeling is Compression\"; per group the model is "
                 "counted once, per file it is counted for that file alone; 0 for classic tools. "
                 "Image and audio codecs get the whole file, PNM or WAV header included, and their whole "
                 "output file is counted (container and headers included). optipng's PNG is decoded and "
                 "checked by this script (no decompress time: `-`); cwebp's, cjxl's and flac's outputs are "
                 "checked for the same pixels or samples, every other output for the same bytes. "
                 "The group \"all\" has the compressors run on every group only.")
    lines.append("")
    cached = [r for r in results if r.cached]
    if cached:
        lines.append(f"{len(cached)} results of classic tools came from the results cache "
                     f"({args.cache}: sizes, times and memory of the run that filled it, keyed by the "
                     "file's SHA-256, the command and the tool's version); `--no-cache` runs them all.")
        lines.append("")
    for problem in problems:
        lines.append(f"- **Note:** {problem}")
    if problems:
        lines.append("")
    if chart_name:
        lines.append(f"![bits per byte against compression speed]({chart_name})")
        lines.append("")

    if not files:  # --patches-only
        lines += list(patch_lines)
        path.write_text("\n".join(lines) + "\n")
        return

    lines += ["## Per group", "",
              "| group | compressor | files | bytes | compressed | bits/byte | % of raw | compress KB/s "
              "| decompress KB/s | compress peak MiB | decompress peak MiB | ratio | adjusted ratio |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for group, per in groups.items():
        for label, s in per.items():
            lines.append(f"| {group} | {label} | {s['files']} | {s['bytes']:,} | {s['compressed']:,} | "
                         f"{fmt(s['bpb'], '.3f')} | {fmt(s['pct'], '.1f')}% | {s['ckbs']:.1f} | "
                         f"{speed(s['dkbs'])} | "
                         f"{mib(s['cmem'])} | {mib(s['dmem'])} | {fmt(s['ratio'], '.3f')} | "
                         f"{fmt(s['adjusted'], '.4f')} |")
    lines.append("")

    # The media groups as the media README's reference tables: % of raw (bytes) by file.
    for folder in MEDIA_FOLDERS:
        group = f"media-{folder}"
        gfiles = [f for f in files if f.group == group]
        gcomps = [c for c in comps if c.runs_on(group)]
        if not gfiles or not gcomps:
            continue
        lines += [f"## {group}: % of raw (compressed bytes) by file", "",
                  "| file | raw bytes | " + " | ".join(c.label for c in gcomps) + " |",
                  "|---|---:|" + "---:|" * len(gcomps)]
        for f in gfiles:
            lines.append(f"| {display_name(f)} | {f.size:,} | " +
                         " | ".join(pct_cell(find_result(results, f, c)) for c in gcomps) + " |")
        total = sum(f.size for f in gfiles)
        cells = []
        for c in gcomps:
            s = groups[group][c.label]
            cells.append("FAIL" if s["pct"] is None else f"**{s['pct']:.1f}%** ({s['compressed']:,})")
        lines.append(f"| **total** | **{total:,}** | " + " | ".join(cells) + " |")
        lines.append("")

    lines += list(patch_lines)

    # A compact matrix first: bits per byte of every file by every compressor.
    lines += ["## Bits per byte by file", "",
              "| file | group | bytes | " + " | ".join(c.label for c in comps) + " |",
              "|---|---|---:|" + "---:|" * len(comps)]
    for f in files:
        cells = []
        for c in comps:
            r = find_result(results, f, c)
            cells.append("-" if r is None or not f.size else "FAIL" if r.error else
                         f"{8 * r.compressed / f.size:.3f}")
        lines.append(f"| {display_name(f)} | {f.group} | {f.size:,} | " + " | ".join(cells) + " |")
    lines.append("")

    lines += ["## Per file", "",
              "| file | group | bytes | compressor | compressed | bits/byte | % of raw | compress KB/s "
              "| decompress KB/s | compress peak MiB | decompress peak MiB | ratio | adjusted ratio |",
              "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for f in files:
        for c in comps:
            r = find_result(results, f, c)
            if r is None:
                continue
            s = summarize([r], c, c.model_bytes)
            lines.append(f"| {display_name(f)} | {f.group} | {f.size:,} | {c.label} | {r.compressed:,} | "
                         f"{fmt(s['bpb'], '.3f')} | {fmt(s['pct'], '.1f')}% | {s['ckbs']:.1f} | "
                         f"{speed(s['dkbs'])} | "
                         f"{mib(s['cmem'])} | {mib(s['dmem'])} | {fmt(s['ratio'], '.3f')} | "
                         f"{fmt(s['adjusted'], '.4f')} |")
    failures = [r for r in results if r.error]
    if failures:
        lines += ["", "## Round-trip failures", ""]
        lines += [f"- {r.file.name}, {r.compressor.label}: {r.error}" for r in failures]
    path.write_text("\n".join(lines) + "\n")


def display_name(f):
    return f.name + "".join(f" (= {a})" for a in f.aliases)


def write_chart(path, groups):
    """Bits per byte against compression speed (log x), one panel per group."""
    import matplotlib
    matplotlib.use("Agg")  # no display on a build machine
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.8), squeeze=False)
    labels = list(dict.fromkeys(label for per in groups.values() for label in per))
    cmap, n = ("tab10", 10) if len(labels) <= 10 else ("tab20", 20)  # the media runs have 14
    colors = {label: plt.get_cmap(cmap)(i % n) for i, label in enumerate(labels)}
    for ax, (group, per) in zip(axes[0], groups.items()):
        for label, s in per.items():
            if s["bpb"] is None:
                continue
            marker = "o" if label.startswith("lmzip") else "s"
            ax.scatter(s["ckbs"], s["bpb"], color=colors.get(label), marker=marker, s=50, label=label)
            ax.annotate(label.split(" (")[0], (s["ckbs"], s["bpb"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("compression speed, KB/s (log)")
        ax.set_ylabel("bits per byte")
        ax.set_title(f"{group} ({next(iter(per.values()))['files']} files)")
        ax.grid(True, which="both", alpha=0.3)
    handles, names = [], []  # every panel's: the media codecs are in one panel each
    for ax in axes[0]:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            if name not in names:
                handles.append(handle)
                names.append(name)
    fig.legend(handles, names, loc="lower center", ncol=min(4, len(names)), fontsize=8)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- main

def parse_args():
    p = argparse.ArgumentParser(description="Compare lmzip levels with gzip, bzip2, xz, zstd and brotli.")
    p.add_argument("paths", nargs="*", metavar="FILE", help="files to run (default: the whole corpus)")
    p.add_argument("--files", nargs="+", metavar="FILE",
                   help="a subset: paths, or names relative to the corpus (canterbury/alice29.txt)")
    p.add_argument("--levels", default="1,5,9", help="lmzip levels, comma-separated (default 1,5,9)")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS), help=f"corpus folder (default {DEFAULT_CORPUS})")
    p.add_argument("--out", default=str(REPO / "bench" / "results"), help="output folder (default bench/results)")
    p.add_argument("--lmzip", default=str(REPO / "build" / "lmzip"), help="lmzip program (default build/lmzip)")
    p.add_argument("--model", help="pass -m MODEL to lmzip for every level")
    p.add_argument("--media", default=str(DEFAULT_MEDIA), help=f"media bench folder (default {DEFAULT_MEDIA})")
    p.add_argument("--media-groups", default="binary",
                   help="media folders to run as groups of their own, comma-separated, from "
                        f"{','.join(MEDIA_FOLDERS)}, or none (default binary); not with --files or --quick")
    p.add_argument("--no-corpus", action="store_true",
                   help="leave out the corpus (text and binary groups): only the media groups")
    p.add_argument("--patches", action="store_true",
                   help="also the paper's setting: 2048-byte patches of the media images and audio, "
                        "each coded alone (a table of its own)")
    p.add_argument("--patches-only", action="store_true", help="the patches alone, no whole files")
    p.add_argument("--patch-count", type=int, default=32, metavar="N",
                   help="patches per image and per recording (default 32)")
    p.add_argument("--patch-seed", default="0", metavar="SEED", help="seed of the patch draw (default 0)")
    p.add_argument("--cache", default="/tmp/lmzip-compare-cache", metavar="DIR",
                   help="results cache of the classic tools, keyed by file hash, command and tool "
                        "version (default /tmp/lmzip-compare-cache); lmzip is never cached")
    p.add_argument("--no-cache", action="store_true", help="run every classic tool, use no cache")
    p.add_argument("--report", default="compare", metavar="NAME",
                   help="report file names in --out: NAME.md and NAME.png (default compare)")
    p.add_argument("--quick", action="store_true",
                   help=f"only the text group's files of at most {QUICK_MAX_BYTES} bytes")
    args = p.parse_args()
    if args.no_cache:
        args.cache = None
    args.patches = args.patches or args.patches_only
    if args.patch_count < 1:
        p.error("--patch-count takes a number of at least 1")
    args.files = (args.files or []) + args.paths
    if args.no_corpus and (args.files or args.quick):
        p.error("--no-corpus runs the media groups: not with files or --quick")
    args.media_groups = [] if args.media_groups == "none" else \
        [g.strip() for g in args.media_groups.split(",") if g.strip()]
    if any(g not in MEDIA_FOLDERS for g in args.media_groups):
        p.error(f"--media-groups takes {', '.join(MEDIA_FOLDERS)} or none")
    try:
        args.levels = sorted({int(x) for x in args.levels.split(",") if x.strip()})
    except ValueError:
        p.error("--levels takes numbers 1..9, e.g. 1,5,9")
    if any(not 1 <= lv <= 9 for lv in args.levels):
        p.error("--levels takes numbers 1..9")
    if args.model and not Path(args.model).is_file():
        p.error(f"--model {args.model}: no such file")
    return args


def media_files(args, folders):
    """BenchFiles of the media folders (images, audio) that the patches are cut from."""
    out = []
    for folder in folders:
        media = Path(args.media) / folder
        if not media.is_dir():
            sys.exit(f"compare.py: --patches: no folder {media}")
        for p in sorted(q for q in media.rglob("*") if q.is_file()):
            out.append(BenchFile(f"media/{folder}/{p.relative_to(media)}", p, p.stat().st_size,
                                 f"media-{folder}"))
    return out


def main():
    args = parse_args()
    files = [] if args.patches_only else collect_files(args)
    problems = []
    lmzips = []
    if args.levels:
        if Path(args.lmzip).is_file() and os.access(args.lmzip, os.X_OK):
            lmzips, lz_problems = lmzip_compressors(args.lmzip, args.levels, args.model)
            problems += lz_problems
        else:
            problems.append(f"{args.lmzip} not found: build lmzip first (scripts/setup.sh); lmzip skipped")
    if not Path(GNU_TIME).is_file():
        problems.append(f"{GNU_TIME} not found (apt-get install time): peak memory not measured")
    run_groups = {f.group for f in files} | ({"media-images", "media-audio"} if args.patches else set())
    classic, classic_problems = classic_compressors(run_groups)
    comps = lmzips + classic
    problems += classic_problems
    for problem in problems:
        print(f"compare.py: warning: {problem}", file=sys.stderr)
    if not comps:
        sys.exit("compare.py: no compressor to run")
    # Whole files: the compressors that take part in their groups, in order (lmzip, classic, media).
    whole = [c for c in comps if any(c.runs_on(f.group) for f in files)]

    results, patch_lines, patch_failures = [], [], []
    with tempfile.TemporaryDirectory(prefix="lmzip-compare-") as tmp:
        for f in files:
            for comp in whole:
                if not comp.runs_on(f.group):
                    continue
                res = round_trip(comp, f, Path(tmp), args.cache)
                results.append(res)
                state = f"FAIL: {res.error}" if res.error else \
                    f"{8 * res.compressed / max(f.size, 1):.3f} bpb, {res.compress_s:.2f}s" + \
                    (f" + {res.decompress_s:.2f}s" if res.decompress_s is not None else "") + \
                    (" (cached)" if res.cached else "")
                print(f"{f.name} [{f.size:,} B] {comp.label}: {state}", file=sys.stderr, flush=True)
        if args.patches:
            patch_lines, patch_failures = run_patches(
                args, media_files(args, ("images", "audio")), lmzips, classic, Path(tmp))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = group_summaries(results, whole)
    report, chart = out / f"{args.report}.md", out / f"{args.report}.png"
    chart_name = chart.name
    # The chart needs matplotlib; the table, which took the time, is written whatever happens to it.
    try:
        if groups:
            write_chart(chart, groups)
        else:
            chart_name = None
    except ImportError as e:
        chart_name = None
        problems.append(f"no chart: {e} (run with /usr/bin/python3 and python3-matplotlib)")
        print(f"compare.py: warning: {problems[-1]}", file=sys.stderr)
    write_markdown(report, args, files, whole, results, groups, problems, chart_name, patch_lines, comps)
    print(f"wrote {report}" + (f" and {chart}" if chart_name else ""))

    failures = [r for r in results if r.error] + patch_failures
    if failures:
        print(f"compare.py: {len(failures)} round trip(s) failed, see {report}", file=sys.stderr)
        return 1
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
