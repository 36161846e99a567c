// Batched single-precision GEMM for the TF.js kernels: C[b] = op(A[b]) · op(B[b]) (+ bias, activation),
// row-major like TF.js tensors, float32 in and float32 accumulation.
#pragma once
#include <cstddef>
#include <cstdint>

enum Activation : int32_t {
  kLinear = 0,
  kRelu = 1,
  kRelu6 = 2,
  kLeakyRelu = 3,
  kSigmoid = 4,
  kElu = 5,
};

struct GemmParams {
  const float* a;
  const float* b;
  float* c;
  int64_t batch;
  int64_t m, n, k;
  // Elements between consecutive batch items; 0 broadcasts one matrix over the batch.
  int64_t stride_a, stride_b;
  // Stored A is [k, m] instead of [m, k]; stored B is [n, k] instead of [k, n].
  bool trans_a, trans_b;
  const float* bias;  // [n] or nullptr
  Activation act;
  float alpha;  // leaky relu slope
};

enum class Isa { kGeneric, kAvx2 };

// The best kernel this CPU runs (AVX2+FMA when present), checked at run time.
Isa BestIsa();
const char* IsaName(Isa isa);
// Sets the worker count (>= 1) and the kernel; the caller's thread counts as one worker.
void GemmConfigure(int threads, Isa isa);
int GemmThreads();
Isa GemmIsa();
// Thread-safe: concurrent callers (several Node environments) are served one at a time.
void Gemm(const GemmParams& p);
// One product C = op(A) · op(B) with explicit row strides (see TileJob), no bias: a piece of a larger
// job that already runs on the pool, such as one attention head.
struct StridedGemm {
  const float* a;
  const float* b;
  float* c;
  int64_t m, n, k;
  bool trans_a, trans_b;
  int64_t lda, ldb, ldc;
};
// Runs g on the calling thread with `worker`'s packing buffers: only from inside a ParallelFor task, which
// passes its worker index (the buffers are that worker's alone while the pool runs).
void GemmOnWorker(const StridedGemm& g, int worker);
// Runs fn(ctx, task, worker) for every task < tasks on the GEMM's pool (elementwise.cc), serialised with
// Gemm like concurrent GEMMs are; one task or one worker runs inline on the calling thread.
void ParallelFor(int64_t tasks, void (*fn)(void* ctx, int64_t task, int worker), void* ctx);
