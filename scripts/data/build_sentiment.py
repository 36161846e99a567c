#!/usr/bin/env python3
"""Rebuild examples/sentiment/{train,dev}.tsv from the original 500 rows plus a pool of new sentences.

The pool is a folder of hand-written text files, one sentence per line: pos*.txt (label 1) and
neg*.txt (label 0). Run check_sentiment_pool.py on it first.

Each label's pool is shuffled with random.Random(SEED) and split 800/200 (train/dev); each output
file is then the original rows plus the new rows, shuffled with random.Random(SEED). The original
rows are copied line for line, unchanged.

Usage: build_sentiment.py POOL_DIR BASE_TRAIN BASE_DEV OUT_DIR
(BASE_* are the original 400-row train.tsv and 100-row dev.tsv.)
"""
import glob, os, random, sys

SEED = 2026
N_TRAIN_PER_LABEL = 800
N_DEV_PER_LABEL = 200
HEADER = "sentence\tlabel"

def read_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    assert lines[0] == HEADER and lines[-1] == "", path
    return lines[1:-1]

def read_pool(pool_dir, prefix):
    out = []
    for path in sorted(glob.glob(os.path.join(pool_dir, prefix + "*.txt"))):
        with open(path, encoding="utf-8") as f:
            out += [l for l in f.read().split("\n") if l.strip()]
    return out

def main():
    pool_dir, base_train, base_dev, out_dir = sys.argv[1:5]
    rng = random.Random(SEED)
    new_train, new_dev = [], []
    for prefix, label in (("pos", "1"), ("neg", "0")):
        sents = read_pool(pool_dir, prefix)
        assert len(sents) == N_TRAIN_PER_LABEL + N_DEV_PER_LABEL, (prefix, len(sents))
        rng.shuffle(sents)
        new_train += [f"{s}\t{label}" for s in sents[:N_TRAIN_PER_LABEL]]
        new_dev += [f"{s}\t{label}" for s in sents[N_TRAIN_PER_LABEL:]]
    for name, base, new in (("train.tsv", base_train, new_train), ("dev.tsv", base_dev, new_dev)):
        rows = read_rows(base) + new
        rng.shuffle(rows)
        with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(HEADER + "\n" + "".join(r + "\n" for r in rows))
        print(f"{name}: {len(rows)} rows")

if __name__ == "__main__":
    main()
