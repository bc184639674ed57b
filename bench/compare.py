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

Exit status: 0 all round trips byte-exact; 1 a round trip failed; 2 none
failed but a compressor could not run (tool not installed, no lmzip model).
See bench/README.md.
"""

import argparse
import datetime
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
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


@dataclass
class Compressor:
    label: str
    compress: list
    decompress: list
    model_path: str = ""  # the .lmzm used; empty for classic tools
    model_bytes: int = 0  # counted in the adjusted ratio
    model_id: str = ""
    model_name: str = ""  # the name stored in the model file


@dataclass
class BenchFile:
    name: str  # shown in the tables: path relative to the corpus, or as given
    path: Path
    size: int
    group: str  # "text", "binary", or "media-" and the media folder
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


# ---------------------------------------------------------------- running

def run_measured(argv, stdin_path, stdout_path, stderr_path):
    """Runs argv with files on stdin/stdout; returns (exit code, seconds, peak RSS KiB or None).

    The peak memory comes from GNU time (-f %M), which forks from its own small
    process: rusage taken by Python itself would include the RSS of the forked
    Python interpreter (about 18 MiB), which exec does not reset.
    """
    mem_file = Path(str(stderr_path) + ".mem")
    prefix = [GNU_TIME, "-f", "%M", "-o", str(mem_file)] if Path(GNU_TIME).is_file() else []
    with open(stdin_path, "rb") as fin, open(stdout_path, "wb") as fout, open(stderr_path, "wb") as ferr:
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


def round_trip(comp, bfile, workdir):
    """Compresses and decompresses one file; the result carries any failure."""
    res = Result(bfile, comp)
    packed, unpacked, err = workdir / "packed", workdir / "unpacked", workdir / "stderr"
    code, res.compress_s, res.compress_kib = run_measured(comp.compress, bfile.path, packed, err)
    if code != 0:
        res.error = f"compress exit {code}: {err.read_text(errors='replace').strip()[:200]}"
        return res
    res.compressed = packed.stat().st_size
    code, res.decompress_s, res.decompress_kib = run_measured(comp.decompress, packed, unpacked, err)
    if code != 0:
        res.error = f"decompress exit {code}: {err.read_text(errors='replace').strip()[:200]}"
    elif not same_bytes(bfile.path, unpacked):
        res.error = "decompressed bytes differ from the original"
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


def classic_compressors():
    comps, problems = [], []
    for label, comp, decomp in CLASSIC_TOOLS:
        if shutil.which(comp[0]):
            comps.append(Compressor(label, comp, decomp))
        else:
            problems.append(f"{comp[0]} not installed: {label} skipped (apt-get install, see bench/README.md)")
    return comps, problems


# ---------------------------------------------------------------- files

def collect_files(args):
    """The files to run, deduplicated by content (pic and ptt5 are the same bytes)."""
    corpus = Path(args.corpus)
    wanted = list(args.files or [])
    if wanted:
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
        bf = BenchFile(name, p, p.stat().st_size, group)
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
                bf = BenchFile(f"media/{folder}/{p.relative_to(media)}", p, p.stat().st_size, f"media-{folder}")
                by_digest[digest] = bf
                files.append(bf)
    if args.quick:
        files = [f for f in files if f.group == "text" and f.size <= QUICK_MAX_BYTES]
        if not files:
            sys.exit(f"compare.py: --quick: no text files of at most {QUICK_MAX_BYTES} bytes")
    return files


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
        "ckbs": kb_per_s(orig, sum(r.compress_s for r in results)),
        "dkbs": kb_per_s(orig, sum(r.decompress_s for r in results)),
        "cmem": peak_mib(r.compress_kib for r in results),
        "dmem": peak_mib(r.decompress_kib for r in results),
        "ratio": orig / packed if packed and ok else None,
        "adjusted": orig / (packed + model_bytes) if packed and ok else None,
        "ok": ok,
    }


def group_summaries(results, comps):
    """{group: {compressor label: summary}} for text, binary, each media group and all."""
    out = {}
    for group in ("text", "binary") + tuple(f"media-{m}" for m in MEDIA_FOLDERS) + ("all",):
        per = {}
        for comp in comps:
            rs = [r for r in results if r.compressor is comp and group in ("all", r.file.group)]
            if rs:
                per[comp.label] = summarize(rs, comp, comp.model_bytes)
        if per:
            out[group] = per
    return out


# ---------------------------------------------------------------- report

def mib(value):
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
    lines = []
    for comp in comps:
        if comp.model_id:
            continue
        tool = comp.compress[0]
        proc = subprocess.run([tool, "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        text = (proc.stdout or proc.stderr).strip().splitlines()
        lines.append(f"{tool}: {text[0].strip('* ') if text else '?'}")
    return "; ".join(lines)


def write_markdown(path, args, files, comps, results, groups, problems, chart_name):
    lines = ["# lmzip against classic compressors", ""]
    lines.append(f"Machine: {machine_line(args.lmzip, comps)}")
    lines.append("")
    lines.append(f"Tools: {tool_versions(comps)}")
    lines.append("")
    lines.append(f"Command: `{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}`; corpus {args.corpus}; "
                 f"{len(files)} files, {sum(f.size for f in files):,} bytes.")
    lines.append("")
    lines.append("KB/s = 1000 bytes of original per second of wall time (process start to exit, "
                 "start-up included: loading a model and its self-test). Memory = peak RSS of the "
                 "process (GNU time %M). Ratio = original / compressed. Adjusted ratio = original / (compressed + "
                 "model file size), as in \"Language Modeling is Compression\"; per group the model is "
                 "counted once, per file it is counted for that file alone; 0 for classic tools.")
    lines.append("")
    for problem in problems:
        lines.append(f"- **Note:** {problem}")
    if problems:
        lines.append("")
    lines.append(f"![bits per byte against compression speed]({chart_name})")
    lines.append("")

    lines += ["## Per group", "",
              "| group | compressor | files | bytes | compressed | bits/byte | compress KB/s | decompress KB/s "
              "| compress peak MiB | decompress peak MiB | ratio | adjusted ratio |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for group, per in groups.items():
        for label, s in per.items():
            lines.append(f"| {group} | {label} | {s['files']} | {s['bytes']:,} | {s['compressed']:,} | "
                         f"{fmt(s['bpb'], '.3f')} | {s['ckbs']:.1f} | {s['dkbs']:.1f} | "
                         f"{mib(s['cmem'])} | {mib(s['dmem'])} | {fmt(s['ratio'], '.3f')} | "
                         f"{fmt(s['adjusted'], '.4f')} |")
    lines.append("")

    # A compact matrix first: bits per byte of every file by every compressor.
    lines += ["## Bits per byte by file", "",
              "| file | group | bytes | " + " | ".join(c.label for c in comps) + " |",
              "|---|---|---:|" + "---:|" * len(comps)]
    for f in files:
        cells = []
        for c in comps:
            r = next(r for r in results if r.file is f and r.compressor is c)
            cells.append("FAIL" if r.error else f"{8 * r.compressed / f.size:.3f}" if f.size else "-")
        lines.append(f"| {display_name(f)} | {f.group} | {f.size:,} | " + " | ".join(cells) + " |")
    lines.append("")

    lines += ["## Per file", "",
              "| file | group | bytes | compressor | compressed | bits/byte | compress KB/s | decompress KB/s "
              "| compress peak MiB | decompress peak MiB | ratio | adjusted ratio |",
              "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for f in files:
        for c in comps:
            r = next(r for r in results if r.file is f and r.compressor is c)
            s = summarize([r], c, c.model_bytes)
            lines.append(f"| {display_name(f)} | {f.group} | {f.size:,} | {c.label} | {r.compressed:,} | "
                         f"{fmt(s['bpb'], '.3f')} | {s['ckbs']:.1f} | {s['dkbs']:.1f} | "
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
    labels = list(next(iter(groups.values())).keys())
    colors = {label: plt.get_cmap("tab10")(i % 10) for i, label in enumerate(labels)}
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
    handles, names = axes[0][0].get_legend_handles_labels()
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
    p.add_argument("--quick", action="store_true",
                   help=f"only the text group's files of at most {QUICK_MAX_BYTES} bytes")
    args = p.parse_args()
    args.files = (args.files or []) + args.paths
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


def main():
    args = parse_args()
    files = collect_files(args)
    problems = []
    comps = []
    if args.levels:
        if Path(args.lmzip).is_file() and os.access(args.lmzip, os.X_OK):
            lz, lz_problems = lmzip_compressors(args.lmzip, args.levels, args.model)
            comps += lz
            problems += lz_problems
        else:
            problems.append(f"{args.lmzip} not found: build lmzip first (scripts/setup.sh); lmzip skipped")
    if not Path(GNU_TIME).is_file():
        problems.append(f"{GNU_TIME} not found (apt-get install time): peak memory not measured")
    classic, classic_problems = classic_compressors()
    comps += classic
    problems += classic_problems
    for problem in problems:
        print(f"compare.py: warning: {problem}", file=sys.stderr)
    if not comps:
        sys.exit("compare.py: no compressor to run")

    results = []
    with tempfile.TemporaryDirectory(prefix="lmzip-compare-") as tmp:
        for f in files:
            for comp in comps:
                res = round_trip(comp, f, Path(tmp))
                results.append(res)
                state = f"FAIL: {res.error}" if res.error else \
                    f"{8 * res.compressed / max(f.size, 1):.3f} bpb, {res.compress_s:.2f}s + {res.decompress_s:.2f}s"
                print(f"{f.name} [{f.size:,} B] {comp.label}: {state}", file=sys.stderr, flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    groups = group_summaries(results, comps)
    # The chart needs matplotlib; the table, which took the time, is written whatever happens to it.
    try:
        write_chart(out / "compare.png", groups)
    except ImportError as e:
        problems.append(f"no chart: {e} (run with /usr/bin/python3 and python3-matplotlib)")
        print(f"compare.py: warning: {problems[-1]}", file=sys.stderr)
    write_markdown(out / "compare.md", args, files, comps, results, groups, problems, "compare.png")
    print(f"wrote {out / 'compare.md'} and {out / 'compare.png'}")

    failures = [r for r in results if r.error]
    if failures:
        print(f"compare.py: {len(failures)} round trip(s) failed, see {out / 'compare.md'}", file=sys.stderr)
        return 1
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
