"""PyTorch reference for `npm run bench:train`: the same training step of every method on the same shapes.

A compact BERT written here (no transformers needed: Debian's python3-torch is enough), random weights,
eval-free training step: forward, backward to the trainable tensors only, Adam. Dropout (DROPOUT, default 0.1 as
in HF's BERT config) sits where HF's BertForSequenceClassification has it in train mode (embeddings, attention
probabilities, both sublayer outputs, pooled output): the step it is compared with drops out at the same places. Prints one JSON line per
case, naming the BLAS library and the parallel backend in use.

METHOD is `full`, `bitfit`, or a JSON recipe the benchmark derives from the method spec our side runs:
  {"kind": "lora", "r": 8, "alpha": 16, "dropout": 0, "targets": ["query", "value"] | "all-linear"}
      HF PEFT's LoRA: x·Wᵀ + b + s·((drop(x)·Aᵀ)·Bᵀ) on the targeted Linear layers (PEFT's suffix matching on HF
      module paths; all-linear: every Linear but the classifier), s = alpha / r, W and b frozen.
  {"kind": "adapter", "variant": "houlsby" | "pfeiffer", "reduction": 16, "act": "swish" | "relu"}
      AdapterHub bottleneck adapters f(z) = up(act(down(z))), m = hidden // reduction, in each sublayer output
      module (h = dropout(dense(x)), r = its input, LN its own LayerNorm): Houlsby (DoubleSeqBn) after the
      attention output and the FFN output, LN(h + f(h) + r); Pfeiffer (SeqBn) after the FFN output only,
      a = LN(h + r), LN(h + f(a) + r) (the same LN twice).
  {"kind": "prompt", "tokens": 20}
      HF PEFT's prompt tuning: n trained vectors in front of the word embeddings (then token types, positions
      over n + T rows, LayerNorm and dropout as for words), the attention mask n ones longer.
  {"kind": "prefix", "tokens": 20}
      HF PEFT's prefix tuning (no projection): per layer n trained keys and values in front of the layer's
      projected ones (past_key_values), the mask n ones longer, real tokens' positions from n.
Every method but full trains only its own tensors and the classifier (PEFT's modules_to_save); BitFit the biases
and the classifier. The base stays frozen, so autograd forms no weight gradient for it.

The reference is OpenBLAS's OpenMP build with THREADS threads (`apt-get install python3-torch
libopenblas0-openmp`). Debian's alternatives usually point libblas at the pthread build, whose threads
fight torch's own OpenMP pool, so when the OpenMP build is installed this script re-executes itself with
it first on the library path, and sets the thread count for torch, OpenMP and OpenBLAS alike (torch starts
with 1 thread on some machines).

usage: python3 bench/torch_step.py SHAPE METHOD BATCH SEQ ITERS THREADS [DROPOUT] [DEVICE]

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


class LoraLinear(nn.Module):
    """PEFT's lora.Linear: base(x) + lora_B(lora_A(dropout(x))) * scaling; the base Linear frozen."""

    def __init__(self, base, r, alpha, dropout):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        self.scaling = alpha / r
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return self.base(x) + nn.functional.linear(nn.functional.linear(self.drop(x), self.lora_A), self.lora_B) * self.scaling


class Adapter(nn.Module):
    """AdapterHub's bottleneck: adapter_up(act(adapter_down(z))), scaling 1."""

    def __init__(self, h, m, act):
        super().__init__()
        self.adapter_down, self.adapter_up = nn.Linear(h, m), nn.Linear(m, h)
        self.act = {"swish": nn.functional.silu, "silu": nn.functional.silu, "relu": nn.functional.relu, "gelu": nn.functional.gelu, "tanh": torch.tanh}[act]
        for lin in (self.adapter_down, self.adapter_up):  # AdapterHub's 'bert' init
            nn.init.normal_(lin.weight, std=0.02)
            nn.init.zeros_(lin.bias)

    def forward(self, z):
        return self.adapter_up(self.act(self.adapter_down(z)))


class Layer(nn.Module):
    def __init__(self, h, heads, inter, recipe):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attn_out, self.attn_ln = nn.Linear(h, h), nn.LayerNorm(h, eps=1e-12)
        self.inter, self.out, self.out_ln = nn.Linear(h, inter), nn.Linear(inter, h), nn.LayerNorm(h, eps=1e-12)
        self.drop = nn.Dropout(DROPOUT)
        self.variant = recipe.get("variant") if recipe.get("kind") == "adapter" else None
        if self.variant:
            m = h // int(recipe.get("reduction", 16))
            act = recipe.get("act", "swish" if self.variant == "houlsby" else "relu")
            self.adapters = nn.ModuleDict({place: Adapter(h, m, act) for place in (("attention", "output") if self.variant == "houlsby" else ("output",))})

    def sublayer(self, place, hid, res, ln):
        """The sub-layer output module's add & norm, with a bottleneck adapter where the method puts one."""
        if not self.variant or place not in self.adapters:
            return ln(hid + res)
        f = self.adapters[place]
        if self.variant == "houlsby":
            return ln(f(hid) + hid + res)
        return ln(f(ln(hid + res)) + hid + res)  # Pfeiffer: the adapter reads LN(h + r), its skip adds h

    def forward(self, x, mask, prefix=None):
        b, t, h = x.shape
        d = h // self.heads
        split = lambda y: y.view(b, y.shape[1], self.heads, d).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        if prefix is not None:  # [2, n, H]: keys and values already projected, the same for every batch item
            k = torch.cat([split(prefix[0].expand(b, -1, -1)), k], 2)
            v = torch.cat([split(prefix[1].expand(b, -1, -1)), v], 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + mask
        ctx = (self.drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, t, h)
        a = self.sublayer("attention", self.drop(self.attn_out(ctx)), x, self.attn_ln)
        return self.sublayer("output", self.drop(self.out(nn.functional.gelu(self.inter(a)))), a, self.out_ln)


# Our module names → HF's, for PEFT's target_modules matching.
HF_NAMES = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
            "attn_out": "attention.output.dense", "inter": "intermediate.dense", "out": "output.dense"}


class Bert(nn.Module):
    def __init__(self, layers, h, heads, recipe, vocab=30522, labels=2):
        super().__init__()
        self.word, self.pos, self.token_type = nn.Embedding(vocab, h), nn.Embedding(512, h), nn.Embedding(2, h)
        self.ln = nn.LayerNorm(h, eps=1e-12)
        self.layers = nn.ModuleList(Layer(h, heads, 4 * h, recipe) for _ in range(layers))
        self.pooler, self.classifier = nn.Linear(h, h), nn.Linear(h, labels)
        self.drop = nn.Dropout(DROPOUT)
        kind = recipe.get("kind")
        self.prompt = nn.Parameter(torch.randn(int(recipe["tokens"]), h) * 0.02) if kind == "prompt" else None
        self.prefix = nn.Parameter(torch.randn(layers, 2, int(recipe["tokens"]), h) * 0.02) if kind == "prefix" else None
        if kind == "lora":
            wrap = lambda base: LoraLinear(base, int(recipe["r"]), float(recipe["alpha"]), float(recipe.get("dropout", 0)))
            for i, layer in enumerate(self.layers):
                for ours, hf in HF_NAMES.items():
                    if lora_target(f"bert.encoder.layer.{i}.{hf}", recipe["targets"]):
                        setattr(layer, ours, wrap(getattr(layer, ours)))
            if lora_target("bert.pooler.dense", recipe["targets"]):
                self.pooler = wrap(self.pooler)

    def method_parameters(self):
        """The method's own tensors (what trains besides the classifier)."""
        return [p for n, p in self.named_parameters() if "lora_" in n or ".adapters." in n or n in ("prompt", "prefix")]

    def forward(self, ids, mask):
        b, t = ids.shape
        words = self.word(ids)
        if self.prompt is not None:  # virtual tokens in front of the words, as inputs_embeds
            words = torch.cat([self.prompt.expand(b, -1, -1), words], 1)
        rows = words.shape[1]
        past = self.prefix.shape[2] if self.prefix is not None else 0  # HF's past_key_values_length
        virtual = rows - t + past
        x = self.drop(self.ln(words + self.token_type(torch.zeros(b, rows, dtype=torch.long, device=ids.device)) + self.pos(torch.arange(past, past + rows, device=ids.device))))
        if virtual:
            mask = torch.cat([torch.ones(b, virtual, dtype=mask.dtype, device=mask.device), mask], 1)
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for i, layer in enumerate(self.layers):
            x = layer(x, ext, self.prefix[i] if self.prefix is not None else None)
        return self.classifier(self.drop(torch.tanh(self.pooler(x[:, 0]))))


def lora_target(module, targets):
    """PEFT's matching of a module path against target_modules: a suffix after a dot, or every Linear."""
    return targets == "all-linear" or any(module == t or module.endswith("." + t) for t in targets)


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
    recipe = json.loads(mode) if mode.startswith("{") else {"kind": mode}
    if DEVICE not in ("cpu", "cuda") or (DEVICE == "cuda" and not torch.cuda.is_available()):
        print(json.dumps({"shape": shape, "mode": mode, "ok": False, "note": f"device {DEVICE} not available"}))
        return
    device = torch.device(DEVICE)
    sync = torch.cuda.synchronize if DEVICE == "cuda" else (lambda: None)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)  # one step at a time: no inter-op parallelism to use
    torch.manual_seed(0)
    layers, h, heads = SHAPES[shape]
    model = Bert(layers, h, heads, recipe).to(device)
    model.train()
    kind = recipe["kind"]
    own = {id(p) for p in model.method_parameters()}
    for name, p in model.named_parameters():
        if kind == "full":
            p.requires_grad = True
        elif kind == "bitfit":
            p.requires_grad = name.endswith(".bias") or name.startswith("classifier.")
        else:
            p.requires_grad = id(p) in own or name.startswith("classifier.")
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
    times, cpu = [], []
    for _ in range(iters):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        sync()  # GPU work is asynchronous: the clock stops when it has finished
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)  # all threads of the process
    ms = statistics.median(times)  # as the benchmark does for ours: one slow step on a shared machine moves a mean
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    blas = blas_library()
    row = {"shape": shape, "mode": mode, "ok": True, "msPerStep": ms, "cpuMsPerStep": statistics.median(cpu), "tokPerS": 1000 * batch * seq / ms,
           "peakRssMiB": peak, "torch": torch.__version__, "blas": blas, "threads": torch.get_num_threads(),
           "parallel": parallel_backend(), "device": DEVICE, "trainable": sum(p.numel() for p in params)}
    if DEVICE == "cuda":
        row["peakGpuMiB"] = torch.cuda.max_memory_allocated() / 2**20
        row["parallel"] = torch.cuda.get_device_name()
    print(json.dumps(row))


if __name__ == "__main__":
    main()
