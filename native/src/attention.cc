#include "attention.h"

#include <algorithm>
#include <vector>

#include "dropout_hash.h"
#include "ew_spans.h"
#include "gemm.h"

namespace {

struct Job {
  const EwSpans* k;
  AttentionShape s;
  const float *qkv, *mask, *probs, *dcontext;
  float *probs_out, *context, *dqkv;
  const float* prefix;  // [P, 2H] prefix keys | values (prefix tasks only)
  float* dprefix;       // [B, P, 2H] out (prefix backward only)
  int64_t scratch_floats;  // per task: T × T blocks, then T × head_dim for scaled queries
  uint32_t key;
  float scale;
};

// This thread's scratch, at least `floats` long. Pool threads live as long as the process, so it is made
// once per thread (and grown for longer sequences), not per call; a task never shares it.
float* Scratch(int64_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < static_cast<size_t>(floats)) buffer.resize(static_cast<size_t>(floats));
  return buffer.data();
}

// Where one head's blocks start in the [B, T, 3H] projections (q; k at + H; v at + 2H; row stride 3H), in the
// [B, T, H] context (row stride H) and in the [B·heads, T, T] probabilities.
struct Head {
  int64_t q, ctx, probs;
  int64_t hidden, ld;
};

Head HeadOf(const AttentionShape& s, int64_t task) {
  const int64_t b = task / s.heads, h = task % s.heads, hidden = s.heads * s.head_dim;
  return {b * s.seq * 3 * hidden + h * s.head_dim, b * s.seq * hidden + h * s.head_dim, task * s.seq * s.seq, hidden, 3 * hidden};
}

// This head's query, key and value blocks of a [B, T, 3H] tensor (the projections or their gradient).
template <typename F>
struct Qkv {
  F *q, *k, *v;
};

template <typename F>
Qkv<F> Blocks(F* base, const Head& hd) {
  F* q = base + hd.q;
  return {q, q + hd.hidden, q + 2 * hd.hidden};
}

// What a task needs to start: its job, the shape, its head's place, and that head's q, k, v blocks.
struct Task {
  const Job& j;
  const AttentionShape& s;
  const Head hd;
  const int64_t t, d;
  const Qkv<const float> in;
  Task(void* ctx, int64_t task)
      : j(*static_cast<const Job*>(ctx)), s(j.s), hd(HeadOf(s, task)), t(s.seq), d(s.head_dim), in(Blocks(j.qkv, hd)) {}
  // Scores are divided by the divisor unless the queries already were.
  float ScoreDivisor() const { return s.divide_query ? 1.f : s.divisor; }
};

// The query block as the product uses it: q itself (row stride ld), or q / divisor into `scaled` (row
// stride head_dim) where the queries are divided first. Returns the row stride.
int64_t Queries(const Job& j, const float* q, int64_t ld, float* scaled, const float** out) {
  const AttentionShape& s = j.s;
  if (!s.divide_query) {
    *out = q;
    return ld;
  }
  for (int64_t i = 0; i < s.seq; i++)
    for (int64_t c = 0; c < s.head_dim; c++) scaled[i * s.head_dim + c] = q[i * ld + c] / s.divisor;
  *out = scaled;
  return s.head_dim;
}

// Dropout over one head's probabilities block, its element (i, j) counted as element probs + i·T + j of the
// whole [B, heads, T, T] tensor: the mask a separate dropout kernel on that tensor would draw.
void DropRows(const Job& j, const float* in, float* out, const Head& hd) {
  j.k->dropout(in, out, j.s.seq * j.s.seq, static_cast<uint32_t>(hd.probs), j.key, j.s.drop24, j.scale);
}

void ForwardTask(void* ctx, int64_t task, int worker) {
  const Task x(ctx, task);
  const Job& j = x.j;
  const Head& hd = x.hd;
  const int64_t t = x.t, d = x.d;
  const auto [q, k, v] = x.in;
  float* p = j.probs_out + hd.probs;
  float* dropped = Scratch(j.scratch_floats);  // T × T, with dropout only
  const float* qs;
  const int64_t ldq = Queries(j, q, hd.ld, dropped + t * t, &qs);
  // scores = q·kᵀ straight into the probabilities block, then softmax(scores / divisor + mask) row by row.
  GemmOnWorker({qs, k, p, t, t, d, false, true, ldq, hd.ld, t}, worker);
  const float* mask = j.mask ? j.mask + (task / x.s.heads) * t : nullptr;
  for (int64_t i = 0; i < t; i++) j.k->softmax(p + i * t, mask, p + i * t, t, x.ScoreDivisor());
  const float* used = p;
  if (x.s.drop24 > 0) {
    DropRows(j, p, dropped, hd);
    used = dropped;
  }
  GemmOnWorker({used, v, j.context + hd.ctx, t, d, t, false, false, t, hd.ld, hd.hidden}, worker);
}

void BackwardTask(void* ctx, int64_t task, int worker) {
  const Task x(ctx, task);
  const Job& j = x.j;
  const AttentionShape& s = x.s;
  const Head& hd = x.hd;
  const int64_t t = x.t, d = x.d;
  const auto [q, k, v] = x.in;
  const auto [dq, dk, dv] = Blocks(j.dqkv, hd);
  const float* p = j.probs + hd.probs;
  const float* dc = j.dcontext + hd.ctx;
  float* g = Scratch(j.scratch_floats);  // T × T: d(dropped probs), then d(scores)
  float* dropped = g + t * t;                    // T × T, with dropout only
  // d(dropped probs) = dcontext·vᵀ; dv = (dropped probs)ᵀ·dcontext.
  GemmOnWorker({dc, v, g, t, t, d, false, true, hd.hidden, hd.ld, t}, worker);
  const float* used = p;
  if (s.drop24 > 0) {
    DropRows(j, p, dropped, hd);
    used = dropped;
    DropRows(j, g, g, hd);  // dropout's gradient: the same mask and scale on the upstream gradient
  }
  GemmOnWorker({used, dc, dv, t, d, t, true, false, t, hd.hidden, hd.ld}, worker);
  // d(scores) = softmax gradient / divisor, then dq = d(scores)·k and dk = d(scores)ᵀ·q (the divided q where
  // queries are divided first; then dq is divided too, the division's own gradient).
  for (int64_t i = 0; i < t; i++) j.k->softmax_grad(p + i * t, g + i * t, g + i * t, t, x.ScoreDivisor());
  GemmOnWorker({g, k, dq, t, d, t, false, false, t, hd.ld, hd.ld}, worker);
  const float* qs;
  const int64_t ldq = Queries(j, q, hd.ld, dropped + t * t, &qs);
  GemmOnWorker({g, qs, dk, t, d, t, true, false, t, ldq, hd.ld}, worker);
  if (s.divide_query)
    for (int64_t i = 0; i < t; i++)
      for (int64_t c = 0; c < d; c++) dq[i * hd.ld + c] /= s.divisor;
}

Job MakeJob(const AttentionShape& s, int64_t scratch_floats) {
  Job j{};
  j.k = GemmIsa() == Isa::kAvx2 ? &kEwAvx2 : &kEwGeneric;
  j.s = s;
  j.scratch_floats = scratch_floats;
  j.key = DropoutKey(s.seed);
  // PyTorch's scale, 1 / (1 − p), rounded once to float (as DropoutApply).
  j.scale = static_cast<float>(1.0 / (1.0 - s.drop24 / 16777216.0));
  return j;
}


// ─── prefix keys/values (prefix tuning) ────────────────────────────────────────────────────────────────
// Per (batch item, head): the head's S = P + T keys and values gathered into contiguous [S, head_dim]
// blocks (the P prefix rows first), then the same steps as above over S keys.

struct PrefixTask {
  const Job& j;
  const AttentionShape& s;
  const int64_t t, d, np, ns, b, h, hidden, ld;
  const float *q, *k, *v, *pk, *pv;
  PrefixTask(void* ctx, int64_t task)
      : j(*static_cast<const Job*>(ctx)),
        s(j.s),
        t(s.seq),
        d(s.head_dim),
        np(s.prefix),
        ns(s.prefix + s.seq),
        b(task / s.heads),
        h(task % s.heads),
        hidden(s.heads * s.head_dim),
        ld(3 * hidden),
        q(j.qkv + b * s.seq * ld + h * d),
        k(q + hidden),
        v(q + 2 * hidden),
        pk(j.prefix + h * d),
        pv(pk + hidden) {}
  float ScoreDivisor() const { return s.divide_query ? 1.f : s.divisor; }
  // kc, vc: [S, head_dim] each, prefix rows first.
  void Gather(float* kc, float* vc) const {
    for (int64_t r = 0; r < np; r++) {
      std::copy(pk + r * 2 * hidden, pk + r * 2 * hidden + d, kc + r * d);
      std::copy(pv + r * 2 * hidden, pv + r * 2 * hidden + d, vc + r * d);
    }
    for (int64_t i = 0; i < t; i++) {
      std::copy(k + i * ld, k + i * ld + d, kc + (np + i) * d);
      std::copy(v + i * ld, v + i * ld + d, vc + (np + i) * d);
    }
  }
  void Drop(const float* in, float* out, int64_t task) const {
    j.k->dropout(in, out, t * ns, static_cast<uint32_t>(task * t * ns), j.key, s.drop24, j.scale);
  }
};

void PrefixForwardTask(void* ctx, int64_t task, int worker) {
  const PrefixTask x(ctx, task);
  const Job& j = x.j;
  const int64_t t = x.t, d = x.d, ns = x.ns;
  float* kc = Scratch(j.scratch_floats);
  float* vc = kc + ns * d;
  float* dropped = vc + ns * d;  // T × S, with dropout only
  float* scaled = dropped + t * ns;
  x.Gather(kc, vc);
  float* p = j.probs_out + task * t * ns;
  const float* qs;
  const int64_t ldq = Queries(j, x.q, x.ld, scaled, &qs);
  GemmOnWorker({qs, kc, p, t, ns, d, false, true, ldq, d, ns}, worker);
  const float* mask = j.mask ? j.mask + x.b * ns : nullptr;
  for (int64_t i = 0; i < t; i++) j.k->softmax(p + i * ns, mask, p + i * ns, ns, x.ScoreDivisor());
  const float* used = p;
  if (x.s.drop24 > 0) {
    x.Drop(p, dropped, task);
    used = dropped;
  }
  GemmOnWorker({used, vc, j.context + x.b * t * x.hidden + x.h * d, t, d, ns, false, false, ns, d, x.hidden}, worker);
}

void PrefixBackwardTask(void* ctx, int64_t task, int worker) {
  const PrefixTask x(ctx, task);
  const Job& j = x.j;
  const AttentionShape& s = x.s;
  const int64_t t = x.t, d = x.d, ns = x.ns, np = x.np, ld = x.ld, hidden = x.hidden;
  float* kc = Scratch(j.scratch_floats);
  float* vc = kc + ns * d;
  float* dkc = vc + ns * d;
  float* dvc = dkc + ns * d;
  float* g = dvc + ns * d;       // T × S: d(dropped probs), then d(scores)
  float* dropped = g + t * ns;   // T × S, with dropout only
  float* scaled = dropped + t * ns;
  x.Gather(kc, vc);
  const float* p = j.probs + task * t * ns;
  const int64_t qoff = x.b * t * ld + x.h * d;
  float* dq = j.dqkv + qoff;
  float* dk = dq + hidden;
  float* dv = dq + 2 * hidden;
  const float* dc = j.dcontext + x.b * t * hidden + x.h * d;
  GemmOnWorker({dc, vc, g, t, ns, d, false, true, hidden, d, ns}, worker);
  const float* used = p;
  if (s.drop24 > 0) {
    x.Drop(p, dropped, task);
    used = dropped;
    x.Drop(g, g, task);
  }
  GemmOnWorker({used, dc, dvc, ns, d, t, true, false, ns, hidden, d}, worker);
  for (int64_t i = 0; i < t; i++) j.k->softmax_grad(p + i * ns, g + i * ns, g + i * ns, ns, x.ScoreDivisor());
  GemmOnWorker({g, kc, dq, t, d, ns, false, false, ns, d, ld}, worker);
  const float* qs;
  const int64_t ldq = Queries(j, x.q, ld, scaled, &qs);
  GemmOnWorker({g, qs, dkc, ns, d, t, true, false, ns, ldq, d}, worker);
  if (s.divide_query)
    for (int64_t i = 0; i < t; i++)
      for (int64_t c = 0; c < d; c++) dq[i * ld + c] /= s.divisor;
  for (int64_t i = 0; i < t; i++) {
    std::copy(dkc + (np + i) * d, dkc + (np + i + 1) * d, dk + i * ld);
    std::copy(dvc + (np + i) * d, dvc + (np + i + 1) * d, dv + i * ld);
  }
  float* dp = j.dprefix + x.b * np * 2 * hidden + x.h * d;
  for (int64_t r = 0; r < np; r++) {
    std::copy(dkc + r * d, dkc + (r + 1) * d, dp + r * 2 * hidden);
    std::copy(dvc + r * d, dvc + (r + 1) * d, dp + r * 2 * hidden + hidden);
  }
}

}  // namespace

void AttentionForward(const float* qkv, const float* mask, float* probs, float* context, const AttentionShape& s) {
  Job j = MakeJob(s, s.seq * s.seq + s.seq * s.head_dim);
  j.qkv = qkv, j.mask = mask, j.probs_out = probs, j.context = context;
  ParallelFor(s.batch * s.heads, ForwardTask, &j);
}

void AttentionBackward(const float* qkv, const float* probs, const float* dcontext, float* dqkv, const AttentionShape& s) {
  Job j = MakeJob(s, 2 * s.seq * s.seq + s.seq * s.head_dim);
  j.qkv = qkv, j.probs = probs, j.dcontext = dcontext, j.dqkv = dqkv;
  ParallelFor(s.batch * s.heads, BackwardTask, &j);
}

void AttentionPrefixForward(const float* qkv, const float* prefix, const float* mask, float* probs, float* context, const AttentionShape& s) {
  const int64_t ns = s.prefix + s.seq;
  Job j = MakeJob(s, 2 * ns * s.head_dim + s.seq * ns + s.seq * s.head_dim);
  j.qkv = qkv, j.prefix = prefix, j.mask = mask, j.probs_out = probs, j.context = context;
  ParallelFor(s.batch * s.heads, PrefixForwardTask, &j);
}

void AttentionPrefixBackward(const float* qkv, const float* prefix, const float* probs, const float* dcontext, float* dqkv, float* dprefix,
                             const AttentionShape& s) {
  const int64_t ns = s.prefix + s.seq;
  Job j = MakeJob(s, 4 * ns * s.head_dim + 2 * s.seq * ns + s.seq * s.head_dim);
  j.qkv = qkv, j.prefix = prefix, j.probs = probs, j.dcontext = dcontext, j.dqkv = dqkv, j.dprefix = dprefix;
  ParallelFor(s.batch * s.heads, PrefixBackwardTask, &j);
}
