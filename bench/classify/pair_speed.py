#!/usr/bin/env python3
"""How long `lmzip ncd` takes for N short texts against the same N (N*N pairs):
issue #30's "1,000 short texts against 1,000 take minutes".

The texts are Debian package descriptions of 100 to 500 bytes
(make_dataset.py's, the reserved packages left out), N of them drawn with a
fixed seed from every section, exact duplicates removed. Each level is timed
as one `lmzip ncd -LEVEL -T THREADS FILES...` (every FILE against every FILE) run (wall
time, model loading included), and the result appended to
bench/results/classify-pairs.md.

  python3 bench/classify/pair_speed.py --lmzip build/lmzip --lists /tmp/aptlists -n 1000 --levels 1
"""
import argparse
import collections
import datetime
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import make_dataset  # noqa: E402
from run import machine  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lmzip", default=os.path.join(ROOT, "build", "lmzip"))
    ap.add_argument("--lists", default="/var/lib/apt/lists", help="apt lists with Packages and Translation-en")
    ap.add_argument("-n", type=int, default=1000, help="texts (N*N pairs)")
    ap.add_argument("--levels", default="1")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "classify-pairs.md"))
    args = ap.parse_args()

    items = make_dataset.build(args.lists)
    copies = collections.Counter(text for _, _, text in items)
    texts = sorted({text for _, _, text in items if copies[text] == 1 and 100 <= len(text.encode()) <= 500})
    if len(texts) < args.n:
        sys.exit(f"only {len(texts)} texts of 100 to 500 bytes")
    texts = random.Random(args.seed).sample(texts, args.n)
    total_bytes = sum(len(t.encode()) for t in texts)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, text in enumerate(texts):
            path = os.path.join(tmp, f"{i:05d}.txt")
            with open(path, "w") as f:
                f.write(text)
            paths.append(path)
        for level in args.levels.split(","):
            cmd = [args.lmzip, "ncd", f"-{level}", "-T", str(args.threads)] + paths
            start = time.time()
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            seconds = time.time() - start
            if done.returncode != 0:
                sys.exit(done.stderr.decode())
            lines = done.stdout.decode().count("\n")
            if lines != args.n + 1:
                sys.exit(f"lmzip ncd printed {lines} lines, not {args.n + 1}")
            pairs = args.n * args.n
            rows.append((level, pairs, seconds))
            print(f"-{level}: {pairs} pairs in {seconds:.1f} s ({1000 * seconds / pairs:.3f} ms a pair)", flush=True)

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    new = not os.path.exists(args.out)
    with open(args.out, "a") as f:
        if new:
            f.write("# `lmzip ncd`: N short texts against the same N\n\n"
                    "Written by `bench/classify/pair_speed.py` (one section per run, newest last).\n")
        f.write(f"\n## {now} UTC\n\nCommand: `python3 bench/classify/pair_speed.py "
                f"{' '.join(a for a in sys.argv[1:])}`. Machine: {machine(args.lmzip)}.\n\n"
                f"{args.n} Debian package descriptions of 100 to 500 bytes ({total_bytes:,} bytes, "
                f"{total_bytes / args.n:.0f} a text), seed {args.seed}; every pair coded (x against y and y "
                f"against x, and x with itself).\n\n"
                "| level | pairs | seconds | ms a pair |\n|---|---:|---:|---:|\n")
        for level, pairs, seconds in rows:
            f.write(f"| -{level} | {pairs:,} | {seconds:.1f} | {1000 * seconds / pairs:.3f} |\n")


if __name__ == "__main__":
    main()
