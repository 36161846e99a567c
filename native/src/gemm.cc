#include "gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "avx2_target.h"
#include "pool.h"
#include "tile_job.h"

namespace {

// Tile sizes: MC·KC floats of packed A (144 KiB) fit Zen 3's 512 KiB L2 next to a KC·NC B panel
// (256 KiB); both are multiples of the micro-kernel's MR × NR.
constexpr int64_t kMc = 144;
constexpr int64_t kNc = 256;
// Below this many flops, waking the other threads costs more than it saves.
constexpr double kParallelFlops = 1 << 20;

struct Buffers {
  std::unique_ptr<float[]> raw;
  float* a = nullptr;
  float* b = nullptr;
};

std::mutex g_mu;  // one GEMM at a time across Node environments (worker threads)
ThreadPool* g_pool = nullptr;  // never freed at exit: joining threads from static destructors is fragile
std::vector<Buffers> g_buffers;
// B packed once for every tile of a GEMM whose batch items share it (see Gemm); grown as needed.
std::unique_ptr<float[]> g_packed_raw;
size_t g_packed_size = 0;
Isa g_isa = Isa::kGeneric;
bool g_configured = false;

float* Align64(float* p) {
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63));
}

void AllocBuffers(int workers) {
  g_buffers.clear();
  g_buffers.resize(workers);
  const size_t a = kMc * PEFT_KC, b = PEFT_KC * kNc;
  for (auto& buf : g_buffers) {
    buf.raw.reset(new float[a + b + 32]);
    buf.a = Align64(buf.raw.get());
    buf.b = Align64(buf.a + a);
  }
}

void ConfigureLocked(int threads, Isa isa) {
  threads = std::max(1, threads);
  if (!g_pool || g_pool->size() != threads) {
    delete g_pool;
    g_pool = new ThreadPool(threads);
    AllocBuffers(threads);
  }
  g_isa = (isa == Isa::kAvx2 && BestIsa() != Isa::kAvx2) ? Isa::kGeneric : isa;
  g_configured = true;
}

struct Plan {
  const GemmParams* p;
  int64_t mc, nc, tiles_m, tiles_n;
  const float* packed_b;  // nullptr: each tile packs its own B panel
  int64_t n_pad;
};

// B's K slices × kNc column chunks, packed in PackBPanel's layout: slice k0 at k0·n_pad, column j0 at j0·kc.
struct PackPlan {
  const GemmParams* p;
  float* dst;
  int64_t n_pad, chunks;
};

void PackTask(void* ctx, int64_t task, int) {
  const PackPlan& pp = *static_cast<const PackPlan*>(ctx);
  const GemmParams& p = *pp.p;
  TileJob t{};
  t.b = p.b, t.m = p.m, t.n = p.n, t.k = p.k, t.trans_b = p.trans_b;
  t.ldb = p.trans_b ? p.k : p.n;
  t.j0 = (task % pp.chunks) * kNc;
  t.nc = std::min(kNc, p.n - t.j0);
  const int64_t k0 = (task / pp.chunks) * PEFT_KC, kc = std::min<int64_t>(PEFT_KC, p.k - k0);
  PackBPanel(&t, k0, kc, pp.dst + k0 * pp.n_pad + t.j0 * kc);
}

float* PackedBuffer(size_t floats) {
  if (floats > g_packed_size) {
    g_packed_raw.reset(new float[floats + 16]);
    g_packed_size = floats;
  }
  return Align64(g_packed_raw.get());
}

float Activate(float x, Activation act, float alpha) {
  switch (act) {
    case kLinear: return x;
    case kRelu: return x > 0.f ? x : 0.f;
    case kRelu6: return std::min(std::max(x, 0.f), 6.f);
    case kLeakyRelu: return x < 0.f ? alpha * x : x;
    case kSigmoid: return 1.f / (1.f + std::exp(-x));
    case kElu: return x < 0.f ? std::expm1(x) : x;
  }
  return x;
}

// One tile on `worker`'s packing buffers: the configured kernel's blocked product (the bias added as the last
// K slice is stored), or for an empty sum (k = 0) the bias, or 0. Runs under g_mu (Gemm, ParallelFor).
void ComputeTile(const TileJob* t, int worker) {
  if (t->k > 0) {
    (g_isa == Isa::kAvx2 ? RunTileAvx2 : RunTileGeneric)(t, g_buffers[worker].a, g_buffers[worker].b);
    return;
  }
  for (int64_t i = 0; i < t->mc; i++) {
    float* row = t->c + (t->i0 + i) * t->ldc + t->j0;
    for (int64_t j = 0; j < t->nc; j++) row[j] = t->bias ? t->bias[t->j0 + j] : 0.f;
  }
}

void RunTask(void* ctx, int64_t task, int worker) {
  const Plan& plan = *static_cast<const Plan*>(ctx);
  const GemmParams& p = *plan.p;
  const int64_t per_batch = plan.tiles_m * plan.tiles_n;
  const int64_t bi = task / per_batch, rem = task % per_batch;
  TileJob t;
  t.a = p.a + bi * p.stride_a;
  t.b = p.b + bi * p.stride_b;
  t.c = p.c + bi * p.m * p.n;
  t.m = p.m, t.n = p.n, t.k = p.k;
  t.trans_a = p.trans_a, t.trans_b = p.trans_b;
  t.lda = p.trans_a ? p.m : p.k, t.ldb = p.trans_b ? p.k : p.n, t.ldc = p.n;
  t.i0 = (rem % plan.tiles_m) * plan.mc;
  t.j0 = (rem / plan.tiles_m) * plan.nc;
  t.mc = std::min(plan.mc, p.m - t.i0);
  t.nc = std::min(plan.nc, p.n - t.j0);
  t.packed_b = plan.packed_b;
  t.n_pad = plan.n_pad;
  t.bias = p.bias;
  ComputeTile(&t, worker);
  if (p.act != kLinear) {
    for (int64_t i = 0; i < t.mc; i++) {
      float* row = t.c + (t.i0 + i) * p.n + t.j0;
      for (int64_t j = 0; j < t.nc; j++) row[j] = Activate(row[j], p.act, p.alpha);
    }
  }
}

int64_t RoundUp(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

}  // namespace

Isa BestIsa() {
#if PEFT_AVX2_TARGET
  static const bool avx2 = HaveAvx2Kernel() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return avx2 ? Isa::kAvx2 : Isa::kGeneric;
#else
  return Isa::kGeneric;
#endif
}

const char* IsaName(Isa isa) { return isa == Isa::kAvx2 ? "avx2" : "generic"; }

void GemmConfigure(int threads, Isa isa) {
  std::lock_guard<std::mutex> lock(g_mu);
  ConfigureLocked(threads, isa);
}

int GemmThreads() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_pool ? g_pool->size() : 0;
}

Isa GemmIsa() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_isa;
}

void Gemm(const GemmParams& p) {
  if (p.batch <= 0 || p.m <= 0 || p.n <= 0) return;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_configured) ConfigureLocked(1, BestIsa());
  Plan plan{&p, kMc, kNc, 0, 0, nullptr, 0};
  const int workers = g_pool->size();
  const double flops = 2.0 * p.batch * p.m * p.n * p.k;
  const bool parallel = workers > 1 && flops >= kParallelFlops;
  auto count = [&] {
    plan.tiles_m = (p.m + plan.mc - 1) / plan.mc;
    plan.tiles_n = (p.n + plan.nc - 1) / plan.nc;
    return p.batch * plan.tiles_m * plan.tiles_n;
  };
  // Too few tiles to keep every thread busy (one small matrix): split M, then N, into smaller tiles.
  if (parallel) {
    while (count() < 2 * workers && plan.mc > 4 * PEFT_MR && p.m > plan.mc / 2) plan.mc = RoundUp(plan.mc / 2, PEFT_MR);
    while (count() < 2 * workers && plan.nc > 4 * PEFT_NR && p.n > plan.nc / 2) plan.nc = RoundUp(plan.nc / 2, PEFT_NR);
  }
  const int64_t tasks = count();
  // One B for every batch item (or one item) and several row tiles: pack B once, in parallel, instead of
  // once per tile (for a [4096, 128] · [128, 128] product that was 29 copies of B).
  if ((p.batch == 1 || p.stride_b == 0) && plan.tiles_m > 1 && p.k > 0) {
    const int64_t n_pad = RoundUp(p.n, PEFT_NR);
    PackPlan pp{&p, PackedBuffer(static_cast<size_t>(RoundUp(p.k, PEFT_KC) * n_pad)), n_pad, (p.n + kNc - 1) / kNc};
    const int64_t pack_tasks = pp.chunks * ((p.k + PEFT_KC - 1) / PEFT_KC);
    if (parallel) g_pool->Run(pack_tasks, PackTask, &pp);
    else for (int64_t t = 0; t < pack_tasks; t++) PackTask(&pp, t, 0);
    plan.packed_b = pp.dst;
    plan.n_pad = n_pad;
  }
  if (parallel) {
    g_pool->Run(tasks, RunTask, &plan);
  } else {
    for (int64_t t = 0; t < tasks; t++) RunTask(&plan, t, 0);
  }
}

void GemmOnWorker(const StridedGemm& g, int worker) {
  if (g.m <= 0 || g.n <= 0) return;
  TileJob t{};
  t.a = g.a, t.b = g.b, t.c = g.c;
  t.m = g.m, t.n = g.n, t.k = g.k;
  t.trans_a = g.trans_a, t.trans_b = g.trans_b;
  t.lda = g.lda, t.ldb = g.ldb, t.ldc = g.ldc;
  for (t.j0 = 0; t.j0 < g.n; t.j0 += kNc) {
    t.nc = std::min(kNc, g.n - t.j0);
    for (t.i0 = 0; t.i0 < g.m; t.i0 += kMc) {
      t.mc = std::min(kMc, g.m - t.i0);
      ComputeTile(&t, worker);
    }
  }
}

void ParallelFor(int64_t tasks, void (*fn)(void*, int64_t, int), void* ctx) {
  if (tasks <= 0) return;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_configured) ConfigureLocked(1, BestIsa());
  g_pool->Run(tasks, fn, ctx);
}
