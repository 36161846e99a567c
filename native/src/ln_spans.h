// The per-ISA bodies of layernorm.cc's kernels, each over a block of whole rows (ln_avx2.cc, ln_generic.cc).
#pragma once
#include <stdint.h>

// No fused multiply-adds unless written, in both span files: a contracted dy·gamma − mean(g) keeps the
// product's rounding error, which rstd (up to 1/√eps) blows up where a row is constant and stock's dx is
// exactly 0. Placed after the includes (and, for AVX2, inside its target region).
#if defined(__clang__)
#define PEFT_LN_NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define PEFT_LN_NO_FP_CONTRACT _Pragma("GCC optimize(\"fp-contract=off\")")
#else
#define PEFT_LN_NO_FP_CONTRACT
#endif

// One row's mean and 1 / √(variance + eps), as both span files compute them.
struct LnStats {
  float mean, rstd;
};

struct LnSpans {
  void (*forward)(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols, float eps);
  // Writes dx for these rows and adds Σ dy·x̂ into dgamma_acc[c] and Σ dy into dbeta_acc[c] (double).
  void (*backward)(const float* dy, const float* x, const float* gamma, float* dx, double* dgamma_acc, double* dbeta_acc,
                   int64_t rows, int64_t cols, float eps);
};

extern const LnSpans kLnGeneric;
// Only use when the CPU reports AVX2 and FMA (gemm.cc's BestIsa()).
extern const LnSpans kLnAvx2;
