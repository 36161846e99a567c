// The per-ISA bodies of layernorm.cc's kernels, each over a block of whole rows (ln_avx2.cc, ln_generic.cc).
#pragma once
#include <stdint.h>

struct LnSpans {
  void (*forward)(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols, float eps);
  // Writes dx for these rows and adds Σ dy·x̂ into dgamma_acc[c] and Σ dy into dbeta_acc[c] (double).
  void (*backward)(const float* dy, const float* x, const float* gamma, float* dx, double* dgamma_acc, double* dbeta_acc,
                   int64_t rows, int64_t cols, float eps);
};

extern const LnSpans kLnGeneric;
// Only use when the CPU reports AVX2 and FMA (gemm.cc's BestIsa()).
extern const LnSpans kLnAvx2;
