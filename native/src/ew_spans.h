// The per-ISA bodies of elementwise.cc's kernels, each over one contiguous span (ew_avx2.cc, ew_generic.cc).
#pragma once
#include <stdint.h>

// Rows per block of a leading-axes sum (sum_cols): blocks are summed separately and then added.
#define kEwRowBlock 64

struct EwSpans {
  void (*gelu)(const float* x, float* y, int64_t n);
  void (*gelu_grad)(const float* x, const float* dy, float* dx, int64_t n);
  // out[c] = Σ_r x[r·ld + c] for c < cols (a column block of a [rows, ld] matrix).
  void (*sum_cols)(const float* x, float* out, int64_t rows, int64_t cols, int64_t ld);
  // Σ x[i] for i < n.
  float (*sum_row)(const float* x, int64_t n);
  // One row of softmax(x / divisor + mask) (mask may be nullptr), and of its gradient (elementwise.h).
  void (*softmax)(const float* x, const float* mask, float* y, int64_t n, float divisor);
  void (*softmax_grad)(const float* y, const float* dy, float* dx, int64_t n, float divisor);
  // y[i] = x[i]·scale where element first + i is kept (dropout_hash.h), else 0.
  void (*dropout)(const float* x, float* y, int64_t n, uint32_t first, uint32_t key, uint32_t drop24, float scale);
};

extern const EwSpans kEwGeneric;
// Only use when HaveAvx2Kernel() and the CPU reports AVX2 and FMA (gemm.cc's BestIsa()).
extern const EwSpans kEwAvx2;
