#!/usr/bin/env python3
"""Check a pool of new sentiment sentences (one per line, files named pos*.txt / neg*.txt).

Reports: format problems, duplicates within the pool and against examples/sentiment/*.tsv,
exact matches with GLUE SST-2 sentences and shared runs of 8+ consecutive words.
Usage: check_sentiment_pool.py POOL_DIR BASE_DIR [SST2_DIR]
(BASE_DIR holds the original 500-row train.tsv and dev.tsv the pool is compared against.)
"""
import glob, os, re, sys

def norm_words(s):
    return re.sub(r"[^\w\s]", " ", s.lower()).split()

def norm(s):
    return " ".join(norm_words(s))

def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        rows = f.read().split("\n")
    return [r.split("\t") for r in rows[1:] if r]

def main():
    pool_dir = sys.argv[1]
    ex = sys.argv[2]
    sst_dir = sys.argv[3] if len(sys.argv) > 3 else "/work/shared/glue/SST-2"
    old = {}
    for name in ("train.tsv", "dev.tsv"):
        for s, _ in read_tsv(os.path.join(ex, name)):
            old[norm(s)] = s
    pool = []
    for path in sorted(glob.glob(os.path.join(pool_dir, "*.txt"))):
        label = "1" if os.path.basename(path).startswith("pos") else "0"
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f.read().split("\n"), 1):
                if line.strip():
                    pool.append((line, label, f"{os.path.basename(path)}:{i}"))
    problems = 0
    seen = {}
    for s, lab, where in pool:
        n = len(s.split())
        if "\t" in s or '"' in s or s != s.strip() or not (3 <= n <= 30):
            print(f"FORMAT {where}: {s!r} ({n} words)"); problems += 1
        k = norm(s)
        if k in seen:
            print(f"DUP-POOL {where} = {seen[k]}: {s}"); problems += 1
        seen.setdefault(k, where)
        if k in old:
            print(f"DUP-OLD {where}: {s}"); problems += 1
    sst_exact, sst_grams = set(), set()
    for name in ("train.tsv", "dev.tsv"):
        for s, _ in read_tsv(os.path.join(sst_dir, name)):
            w = norm_words(s)
            sst_exact.add(" ".join(w))
            for i in range(len(w) - 7):
                sst_grams.add(" ".join(w[i:i + 8]))
    for s, lab, where in pool:
        w = norm_words(s)
        if " ".join(w) in sst_exact:
            print(f"SST-EXACT {where}: {s}"); problems += 1
            continue
        hits = [" ".join(w[i:i + 8]) for i in range(len(w) - 7) if " ".join(w[i:i + 8]) in sst_grams]
        if hits:
            print(f"SST-8GRAM {where}: {s}  <- {hits[0]!r}"); problems += 1
    npos = sum(1 for p in pool if p[1] == "1")
    print(f"pool: {len(pool)} sentences ({npos} pos, {len(pool) - npos} neg); problems: {problems}")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
