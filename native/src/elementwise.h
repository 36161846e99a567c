// Elementwise and reduction kernels for the TF.js wasm backend's heaviest non-GEMM ops: the exact (erf)
// GELU and its gradient, dropout, and sums over leading or trailing axes (bias gradients, LayerNorm pieces). They
// run on the GEMM's thread pool and kernel choice (gemm.h), in chunks, over float32 row-major data.
#pragma once
#include <cstdint>

// y = x·0.5·(1 + erf(x·√½)), HF's `gelu`, in the op order of layers.ts's stock expression.
void GeluForward(const float* x, float* y, int64_t n);
// dx = dy·(0.5·(1 + erf(x·√½)) + x·exp(−x²/2)/√(2π)), the derivative of the above.
void GeluBackward(const float* x, const float* dy, float* dx, int64_t n);
// x is [rows, cols]. Leading: out[c] = Σ_r x[r, c]. Trailing: out[r] = Σ_c x[r, c].
void SumLeading(const float* x, float* out, int64_t rows, int64_t cols);
void SumTrailing(const float* x, float* out, int64_t rows, int64_t cols);
// out[i] = a[i] + b[i] (a residual connection, added before a LayerNorm).
void AddSame(const float* a, const float* b, float* out, int64_t n);
// y[i] = keep(seed, i) ? x[i]·scale : 0 with P(drop) = drop24 / 2^24 and scale = 1 / (1 − drop24 / 2^24)
// (dropout_hash.h). Applied to the upstream gradient with the same seed, it is also dropout's gradient.
void DropoutApply(const float* x, float* y, int64_t n, uint32_t seed, uint32_t drop24);
