#!/usr/bin/env python3
"""Builds the Debian package description data set of bench/classify: each
item the English description of a package in Debian 12 (bookworm) main, its
label the package's Section.

Descriptions come from apt's lists: Packages (Section, Description-md5) and
i18n/Translation-en (the descriptions, by md5). Docker images set
Acquire::Languages "none", so the Translation-en files are usually missing;
fetch them into a folder of their own, leaving the system's lists alone:

  mkdir -p /tmp/aptlists/partial
  apt-get update -o Dir::State::Lists=/tmp/aptlists -o Acquire::Languages=en
  python3 bench/classify/make_dataset.py --lists /tmp/aptlists --out bench/classify/split.tsv

An item's text is the description as written: the synopsis line, then the
long description with its leading space removed and " ." lines as empty
lines. Texts are kept between --min-bytes and --max-bytes. Exact duplicates
are removed altogether (every copy, whatever its section), so no text is in
both halves nor in two classes. From each section, a seeded sample of
--train + --test texts is drawn and cut into the two halves. The split is
written as TSV (half, section, package, md5 of the text); --tree DIR writes
DIR/train/SECTION/PACKAGE and DIR/test/SECTION/PACKAGE, what
`lmzip classify --train DIR/train --eval DIR/test` reads.
"""
import argparse
import collections
import glob
import hashlib
import os
import random
import subprocess
import sys

SECTIONS = ["database", "editors", "electronics", "games", "graphics", "mail", "science", "sound"]


def read_lz4_or_plain(path):
    if path.endswith(".lz4"):
        return subprocess.run(["lz4cat", path], check=True, capture_output=True).stdout.decode("utf-8", "replace")
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def stanzas(text):
    for block in text.split("\n\n"):
        fields, key = {}, None
        for line in block.split("\n"):
            if not line:
                continue
            if line[0] in " \t" and key:
                fields[key] += "\n" + line
            else:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def description_text(value):
    lines = value.split("\n")
    out = [lines[0].strip()]
    for line in lines[1:]:
        line = line[1:] if line.startswith(" ") else line
        out.append("" if line == "." else line)
    return "\n".join(out) + "\n"


# Packages whose files are kept for independent checks elsewhere: their
# descriptions are left out too, so nothing of them is in this benchmark.
RESERVED_EXACT = {"python3-skimage", "alsa-utils", "sqlite3"}
RESERVED_PREFIXES = ("puredata", "supercollider", "sonic-pi")


def reserved(package):
    return package in RESERVED_EXACT or package.startswith(RESERVED_PREFIXES)


def build(lists):
    packages = sorted(glob.glob(os.path.join(lists, "*_debian_dists_bookworm_main_binary-amd64_Packages*")))
    translations = sorted(glob.glob(os.path.join(lists, "*_debian_dists_bookworm_main_i18n_Translation-en*")))
    if not packages or not translations:
        sys.exit("make_dataset.py: no bookworm main Packages or Translation-en under %s (see --help)" % lists)
    section_of = {}
    for st in stanzas(read_lz4_or_plain(packages[0])):
        if "Package" in st and "Section" in st and "Description-md5" in st:
            section_of.setdefault(st["Package"], (st["Section"], st["Description-md5"]))
    texts = {}
    for st in stanzas(read_lz4_or_plain(translations[0])):
        if "Package" in st and "Description-en" in st:
            texts[(st["Package"], st.get("Description-md5", ""))] = description_text(st["Description-en"])
    items = []  # (section, package, text)
    for package, (section, md5) in sorted(section_of.items()):
        if reserved(package):
            continue
        text = texts.get((package, md5))
        if text is not None:
            items.append((section, package, text))
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lists", default="/var/lib/apt/lists")
    ap.add_argument("--out", required=True, help="split TSV to write")
    ap.add_argument("--tree", help="folder to write the texts into (train/SECTION/PKG, test/SECTION/PKG)")
    ap.add_argument("--train", type=int, default=40, help="training texts per section")
    ap.add_argument("--test", type=int, default=25, help="test texts per section")
    ap.add_argument("--min-bytes", type=int, default=150)
    ap.add_argument("--max-bytes", type=int, default=800)
    ap.add_argument("--seed", type=int, default=30)
    args = ap.parse_args()

    items = build(args.lists)
    copies = collections.Counter(text for _, _, text in items)
    by_section = collections.defaultdict(list)
    for section, package, text in items:
        if copies[text] == 1 and args.min_bytes <= len(text.encode()) <= args.max_bytes:
            by_section[section].append((package, text))
    rng = random.Random(args.seed)
    rows = []
    for section in SECTIONS:
        pool = sorted(by_section[section])
        need = args.train + args.test
        if len(pool) < need:
            sys.exit("make_dataset.py: section %s has %d texts, fewer than %d" % (section, len(pool), need))
        sample = rng.sample(pool, need)
        for i, (package, text) in enumerate(sample):
            half = "train" if i < args.train else "test"
            rows.append((half, section, package, text))
    print("make_dataset.py: %d packages with descriptions, %d sections; eligible per section: %s" % (
        len(items), len(SECTIONS), ", ".join("%s %d" % (s, len(by_section[s])) for s in SECTIONS)), file=sys.stderr)
    with open(args.out, "w") as f:
        f.write("# half\tsection\tpackage\tsha256 of the text (bench/classify/make_dataset.py --seed %d --train %d"
                " --test %d --min-bytes %d --max-bytes %d)\n" % (args.seed, args.train, args.test, args.min_bytes,
                                                                  args.max_bytes))
        for half, section, package, text in rows:
            f.write("%s\t%s\t%s\t%s\n" % (half, section, package, hashlib.sha256(text.encode()).hexdigest()))
    if args.tree:
        for half, section, package, text in rows:
            d = os.path.join(args.tree, half, section)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, package), "w") as f:
                f.write(text)


if __name__ == "__main__":
    main()
