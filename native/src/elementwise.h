// Elementwise and reduction kernels for the TF.js wasm backend's heaviest non-GEMM ops: the exact (erf)
// GELU and its gradient, dropout, sums, and BERT's attention softmax over leading or trailing axes (bias gradients, LayerNorm pieces). They
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
// BERT's attention softmax, fused: probs = softmax(scores / divisor + mask) over the last axis, as HF's
// BertSelfAttention computes it op by op (divide, add the extended mask, softmax), and its gradient with
// respect to the scores. One pass per row instead of three TF.js kernels forward and five backward.
// x, y: [rows, cols]. mask: [rows / rows_per_mask, cols], row r adds mask row r / rows_per_mask (a [B, 1, 1, T]
// mask over [B, heads, T, T] scores has rows_per_mask = heads·T); nullptr: no mask.
void AttentionSoftmaxForward(const float* x, const float* mask, float* y, int64_t rows, int64_t cols, int64_t rows_per_mask,
                             float divisor);
// dx = y·(dy − Σ dy·y) / divisor per row: the softmax gradient, then the division's.
void AttentionSoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float divisor);
