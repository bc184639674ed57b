#!/usr/bin/env python3
"""The classification benchmark of issue #30: Debian package descriptions
labelled by section (bench/classify/make_dataset.py), classified by k nearest
neighbours under the normalized compression distance with lmzip at two
levels and with gzip, against two baselines without compression: the
majority class and a bag-of-words nearest neighbour (cosine of word counts).

Every method sees the same split and votes with the same k and tie rule
(lmzip.h knn_label: the k items of least (distance, training index) vote; a
tie between labels goes to the tied label whose nearest neighbour comes
first), and a test item counts as correct only when its one label is right.
C(xy) is the training text x followed by the test text y, for lmzip and gzip
alike (gzip: len(gzip.compress(x + y)) with Python's gzip at level 9).

  python3 bench/classify/run.py --lmzip build/lmzip --lists /tmp/aptlists

writes bench/classify/split.tsv (the split) and bench/results/classify.md.
"""
import argparse
import collections
import datetime
import gzip
import math
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def read_tree(root):
    labels = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    paths, label_of = [], []
    for i, label in enumerate(labels):
        for name in sorted(os.listdir(os.path.join(root, label))):
            paths.append(os.path.join(root, label, name))
            label_of.append(i)
    texts = [open(p, "rb").read() for p in paths]
    return labels, paths, label_of, texts


def knn_label(distances, labels, k):
    order = sorted(range(len(distances)), key=lambda t: (distances[t], t))[:k]
    tally = collections.OrderedDict()
    for t in order:
        tally[labels[t]] = tally.get(labels[t], 0) + 1
    best = None
    for label, votes in tally.items():
        if best is None or votes > tally[best]:
            best = label
    return best


def evaluate(truth, predicted, n):
    confusion = [[0] * n for _ in range(n)]
    for t, p in zip(truth, predicted):
        confusion[t][p] += 1
    correct = sum(confusion[c][c] for c in range(n))
    precision = [confusion[c][c] / sum(confusion[r][c] for r in range(n)) if any(confusion[r][c] for r in range(n))
                 else float("nan") for c in range(n)]
    recall = [confusion[c][c] / sum(confusion[c]) if sum(confusion[c]) else float("nan") for c in range(n)]
    return correct / len(truth), correct, precision, recall, confusion


def read_distances(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path)]
    return [[float(v) for v in r[1:]] for r in rows[1:]]


def words(text):
    return collections.Counter(re.findall(r"[a-z0-9]+", text.decode("utf-8", "replace").lower()))


def cosine_distance(a, b, na, nb):
    dot = sum(v * b.get(w, 0) for w, v in a.items())
    return 1.0 - (dot / (na * nb) if na and nb else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lmzip", default=os.path.join(ROOT, "build", "lmzip"))
    ap.add_argument("--lists", default="/var/lib/apt/lists", help="apt lists with Packages and Translation-en")
    ap.add_argument("--levels", default="1,5")
    ap.add_argument("-k", type=int, default=1, help="neighbours for every method")
    ap.add_argument("--also-k", default="3,5", help="further k, from the same distances (no extra coding)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train", type=int, default=12, help="training texts per section")
    ap.add_argument("--test", type=int, default=12, help="test texts per section")
    ap.add_argument("--min-bytes", type=int, default=100)
    ap.add_argument("--max-bytes", type=int, default=500)
    ap.add_argument("--seed", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "classify.md"))
    ap.add_argument("--split", default=os.path.join(HERE, "split.tsv"))
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    ks = [args.k] + [int(x) for x in args.also_k.split(",") if x and int(x) != args.k]

    work = tempfile.mkdtemp(prefix="lmzip-classify.")
    tree = os.path.join(work, "data")
    subprocess.run([sys.executable, os.path.join(HERE, "make_dataset.py"), "--lists", args.lists, "--out", args.split,
                    "--tree", tree, "--train", str(args.train), "--test", str(args.test), "--min-bytes",
                    str(args.min_bytes), "--max-bytes", str(args.max_bytes), "--seed", str(args.seed)], check=True)
    labels, train_paths, train_labels, train_texts = read_tree(os.path.join(tree, "train"))
    test_labels_names, test_paths, test_label_idx, test_texts = read_tree(os.path.join(tree, "test"))
    assert test_labels_names == labels
    truth = test_label_idx
    n = len(labels)
    results = []  # (method, k, accuracy, correct, seconds, precision, recall, confusion, right per item)

    def record(method, k, predicted, seconds):
        acc, correct, precision, recall, confusion = evaluate(truth, predicted, n)
        right = [p == t for p, t in zip(predicted, truth)]
        results.append((method, k, acc, correct, seconds, precision, recall, confusion, right))
        print("%-28s k=%d accuracy %.4f (%d/%d) %.1f s" % (method, k, acc, correct, len(truth), seconds),
              file=sys.stderr, flush=True)

    # lmzip: the program's own labels at k, and further k from its distances.
    for level in levels:
        dist_file = os.path.join(work, "lmzip-%d.tsv" % level)
        cmd = [args.lmzip, "classify", "-%d" % level, "-T", str(args.threads), "-k", str(args.k), "--train",
               os.path.join(tree, "train"), "--eval", os.path.join(tree, "test"), "--distances", dist_file]
        start = time.time()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        seconds = time.time() - start
        print(out, file=sys.stderr)
        d = read_distances(dist_file)
        for k in ks:
            predicted = [knn_label(row, train_labels, k) for row in d]
            record("lmzip -%d NCD kNN" % level, k, predicted, seconds if k == args.k else 0.0)
        # The program's own count at k (the distances file holds 10 decimals).
        m = re.match(r"accuracy\t([0-9.]+)\t(\d+)/", out)
        if not m or int(m.group(2)) != results[-len(ks)][3]:
            print("warning: lmzip's own count (%s) differs from the one from its distances" % out.split("\n")[0],
                  file=sys.stderr)

    # gzip: C = len(gzip.compress(.)), level 9, the same pairs.
    start = time.time()
    c_train = [len(gzip.compress(x, 9)) for x in train_texts]
    d = []
    for y in test_texts:
        cy = len(gzip.compress(y, 9))
        row = []
        for x, cx in zip(train_texts, c_train):
            cxy = len(gzip.compress(x + y, 9))
            row.append((cxy - min(cx, cy)) / max(cx, cy))
        d.append(row)
    seconds = time.time() - start
    for k in ks:
        record("gzip -9 NCD kNN", k, [knn_label(row, train_labels, k) for row in d], seconds if k == args.k else 0.0)

    # Majority class of the training half (ties: the first label).
    start = time.time()
    counts = collections.Counter(train_labels)
    majority = min(counts, key=lambda c: (-counts[c], c))
    record("majority class", 0, [majority] * len(truth), time.time() - start)

    # Bag of words: lower-case words, cosine of their counts, same kNN.
    start = time.time()
    bags = [words(x) for x in train_texts]
    norms = [math.sqrt(sum(v * v for v in b.values())) for b in bags]
    d = []
    for y in test_texts:
        by = words(y)
        ny = math.sqrt(sum(v * v for v in by.values()))
        d.append([cosine_distance(by, b, ny, nb) for b, nb in zip(bags, norms)])
    seconds = time.time() - start
    for k in ks:
        record("bag of words cosine kNN", k, [knn_label(row, train_labels, k) for row in d],
               seconds if k == args.k else 0.0)

    write_report(args, labels, len(train_texts), len(test_texts), results, ks)


def fmt(v):
    return "-" if isinstance(v, float) and math.isnan(v) else "%.3f" % v


def machine(lmzip):
    """The CPU, its count, the load now and lmzip's version, for a report's machine line."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.*)", lscpu)
    cpus = re.search(r"^CPU\(s\):\s*(.*)", lscpu, re.M)
    load = open("/proc/loadavg").read().split()[:3]
    version = subprocess.run([lmzip, "--version"], capture_output=True, text=True).stdout.strip()
    return "%s, %s CPUs, load average at the end %s (shared with other jobs); %s" % (
        model.group(1) if model else "?", cpus.group(1) if cpus else "?", " ".join(load), version)


def write_report(args, labels, n_train, n_test, results, ks):
    cmd = "python3 bench/classify/run.py " + " ".join(a for a in sys.argv[1:])
    lines = []
    w = lines.append
    w("# Classification by compression distance: Debian package descriptions")
    w("")
    w("Generated by `bench/classify/run.py` on %s (UTC). Command: `%s`." %
      (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), cmd))
    w("")
    w("Machine: %s." % machine(args.lmzip))
    w("")
    w("Data: descriptions (synopsis and long description) of Debian 12 main packages, labelled by Section; "
      "%d sections (%s); texts of %d to %d bytes; exact duplicates removed (every copy); seeded split (seed %d), "
      "%d training and %d test texts per section (%d and %d in all), listed in `bench/classify/split.tsv`." %
      (len(labels), ", ".join(labels), args.min_bytes, args.max_bytes, args.seed, args.train, args.test, n_train,
       n_test))
    w("")
    w("Every method: k nearest training texts vote (k as given), a tie between labels goes to the tied label "
      "whose nearest neighbour is nearer (lmzip.h `knn_label`), and an item is correct only when its one label is. "
      "NCD(x, y) = (C(xy) - min(C(x), C(y))) / max(C(x), C(y)) with x the training text and y the test text; lmzip's C "
      "is the model's ideal code length in bits, gzip's the size of `gzip.compress(., 9)`. Times: the whole "
      "distance matrix and vote (the lmzip program with -T %d; further k reuse the same distances)." % args.threads)
    w("")
    w("| method | k | accuracy | correct | seconds |")
    w("|---|---:|---:|---:|---:|")
    for method, k, acc, correct, seconds, *_ in results:
        w("| %s | %s | %.1f%% | %d/%d | %s |" % (method, k if k else "-", 100 * acc, correct, n_test,
                                                  "%.1f" % seconds if seconds else "(same)"))
    w("")
    gz = [r for r in results if r[0].startswith("gzip") and r[1] == ks[0]]
    for r in results:
        if not r[0].startswith("lmzip") or r[1] != ks[0] or not gz:
            continue
        b = sum(1 for a, c in zip(r[8], gz[0][8]) if a and not c)
        c = sum(1 for a, cc in zip(r[8], gz[0][8]) if cc and not a)
        p = min(1.0, 2 * sum(math.comb(b + c, i) for i in range(min(b, c) + 1)) / 2 ** (b + c)) if b + c else 1.0
        w("%s against gzip, k = %d, item by item: %d right where gzip is wrong, %d wrong where gzip is right "
          "(exact two-sided McNemar test: p = %.3f)." % (r[0], ks[0], b, c, p))
        w("")
    w("## Per class (k = %d)" % ks[0])
    w("")
    shown = [r for r in results if r[1] in (ks[0], 0)]
    w("| class | " + " | ".join("%s P / R" % r[0] for r in shown) + " |")
    w("|---|" + "---:|" * len(shown))
    for c, label in enumerate(labels):
        w("| %s | " % label + " | ".join("%s / %s" % (fmt(r[5][c]), fmt(r[6][c])) for r in shown) + " |")
    w("")
    for r in shown:
        if "NCD" not in r[0]:
            continue
        w("Confusion of %s, k = %d (rows: true section, columns: predicted):" % (r[0], r[1]))
        w("")
        w("| | " + " | ".join(labels) + " |")
        w("|---|" + "---:|" * len(labels))
        for c, label in enumerate(labels):
            w("| %s | " % label + " | ".join(str(v) for v in r[7][c]) + " |")
        w("")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote " + args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
