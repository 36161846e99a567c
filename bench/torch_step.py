"""PyTorch reference for `npm run bench:train`: the same BitFit / full fine-tuning step on the same shapes.

A compact BERT written here (no transformers needed: Debian's python3-torch is enough), random weights,
eval-free training step: forward, backward to the trainable tensors only, Adam. Dropout (DROPOUT, default 0.1 as
in HF's BERT config) sits where HF's BertForSequenceClassification has it in train mode (embeddings, attention
probabilities, both sublayer outputs, pooled output): the step it is compared with drops out at the same places. Prints one JSON line per
case, naming the BLAS library and the parallel backend in use.

The reference is OpenBLAS's OpenMP build with THREADS threads (`apt-get install python3-torch
libopenblas0-openmp`). Debian's alternatives usually point libblas at the pthread build, whose threads
fight torch's own OpenMP pool, so when the OpenMP build is installed this script re-executes itself with
it first on the library path, and sets the thread count for torch, OpenMP and OpenBLAS alike (torch starts
with 1 thread on some machines).

usage: python3 bench/torch_step.py SHAPE MODE BATCH SEQ ITERS THREADS [DROPOUT] [DEVICE]

DEVICE is `cpu` (default) or `cuda`: on a GPU machine the same step runs on the GPU (steps timed between
synchronisations, peak GPU memory reported as well), the reference for our webgpu / tensorflow-gpu rows.
"""
import json
import math
import os
import resource
import statistics
import sys
import sysconfig
import time

OPENMP_BLAS = os.path.join("/usr/lib", sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu", "openblas-openmp")


def use_openmp_blas(threads):
    """Re-exec once with the OpenMP OpenBLAS ahead of the system's choice; the loader reads the path at start."""
    if os.environ.get("TORCH_STEP_BLAS") == OPENMP_BLAS or not os.path.isdir(OPENMP_BLAS):
        return
    env = dict(os.environ, TORCH_STEP_BLAS=OPENMP_BLAS, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    env["LD_LIBRARY_PATH"] = ":".join(p for p in (OPENMP_BLAS, os.environ.get("LD_LIBRARY_PATH")) if p)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


if __name__ == "__main__":
    use_openmp_blas(int(sys.argv[6]))

import torch  # noqa: E402 (after the re-exec, so the chosen BLAS is the one loaded)
from torch import nn  # noqa: E402

# HF BERT's hidden_dropout_prob and attention_probs_dropout_prob unless given.
DROPOUT = float(sys.argv[7]) if len(sys.argv) > 7 else 0.1
DEVICE = sys.argv[8] if len(sys.argv) > 8 else "cpu"

SHAPES = {
    "BERT-Tiny": (2, 128, 2),
    "BERT-Mini": (4, 256, 4),
    "BERT-Small": (4, 512, 8),
    "BERT-Medium": (8, 512, 8),
    "BERT-Base": (12, 768, 12),
}


class Layer(nn.Module):
    def __init__(self, h, heads, inter):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.attn_ln = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12)
        self.inter, self.out, self.out_ln = nn.Linear(h, inter), nn.Linear(inter, h), nn.LayerNorm(h, eps=1e-12)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, x, mask):
        b, t, h = x.shape
        d = h // self.heads
        split = lambda y: y.view(b, t, self.heads, d).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + mask
        ctx = (self.drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, t, h)
        a = self.attn_ln(self.drop(self.attn_out(ctx)) + x)
        return self.out_ln(self.drop(self.out(nn.functional.gelu(self.inter(a)))) + a)


class Bert(nn.Module):
    def __init__(self, layers, h, heads, vocab=30522, labels=2):
        super().__init__()
        self.word, self.pos, self.token_type = nn.Embedding(vocab, h), nn.Embedding(512, h), nn.Embedding(2, h)
        self.ln = nn.LayerNorm(h, eps=1e-12)
        self.layers = nn.ModuleList(Layer(h, heads, 4 * h) for _ in range(layers))
        self.pooler, self.classifier = nn.Linear(h, h), nn.Linear(h, labels)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, ids, mask):
        t = ids.shape[1]
        x = self.drop(self.ln(self.word(ids) + self.pos(torch.arange(t, device=ids.device)) + self.token_type(torch.zeros_like(ids))))
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, ext)
        return self.classifier(self.drop(torch.tanh(self.pooler(x[:, 0]))))


def blas_library():
    """Which BLAS the process mapped: Debian's reference BLAS is ~24x slower than OpenBLAS, so say it."""
    try:
        with open("/proc/self/maps") as f:
            paths = {os.path.realpath(line.split()[-1]) for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(p.split("-linux-gnu/")[-1] for p in paths)) or "unknown"
    except OSError:
        return "unknown"


def parallel_backend():
    """torch's intra-op backend as it reports it, e.g. "OpenMP 201511 (a.k.a. OpenMP 4.5), 2 threads"."""
    info = torch.__config__.parallel_info()
    backend = next((line.strip() for line in info.splitlines() if line.startswith(("OpenMP", "Intel(R) TBB", "std::thread"))), "unknown")
    return f"{backend}, {torch.get_num_threads()} threads"


def main():
    shape, mode, batch, seq, iters, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
    if DEVICE not in ("cpu", "cuda") or (DEVICE == "cuda" and not torch.cuda.is_available()):
        print(json.dumps({"shape": shape, "mode": mode, "ok": False, "note": f"device {DEVICE} not available"}))
        return
    device = torch.device(DEVICE)
    sync = torch.cuda.synchronize if DEVICE == "cuda" else (lambda: None)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)  # one step at a time: no inter-op parallelism to use
    torch.manual_seed(0)
    layers, h, heads = SHAPES[shape]
    model = Bert(layers, h, heads).to(device)
    model.train()
    for name, p in model.named_parameters():
        p.requires_grad = mode == "full" or name.endswith(".bias") or name.startswith("classifier.")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    ids = torch.randint(1000, 30522, (batch, seq)).to(device)
    mask = torch.ones(batch, seq, dtype=torch.long).to(device)
    labels = torch.randint(0, 2, (batch,)).to(device)

    def step():
        loss = nn.functional.cross_entropy(model(ids, mask), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(iters):
        sync()
        t0 = time.perf_counter()
        step()
        sync()  # GPU work is asynchronous: the clock stops when it has finished
        times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)  # as the benchmark does for ours: one slow step on a shared machine moves a mean
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    blas = blas_library()
    row = {"shape": shape, "mode": mode, "ok": True, "msPerStep": ms, "tokPerS": 1000 * batch * seq / ms,
           "peakRssMiB": peak, "torch": torch.__version__, "blas": blas, "threads": torch.get_num_threads(),
           "parallel": parallel_backend(), "device": DEVICE, "trainable": sum(p.numel() for p in params)}
    if DEVICE == "cuda":
        row["peakGpuMiB"] = torch.cuda.max_memory_allocated() / 2**20
        row["parallel"] = torch.cuda.get_device_name()
    print(json.dumps(row))


if __name__ == "__main__":
    main()
