// BERT's attention softmax, fused: probs = softmax(scores / divisor + mask) over the last axis, as HF's
// BertSelfAttention computes it op by op (divide, add the extended mask, softmax), and its gradient with
// respect to the scores. One pass per row instead of three TF.js kernels forward and five backward.
#pragma once
#include <cstdint>

// x, y: [rows, cols]. mask: [rows / rows_per_mask, cols], row r adds mask row r / rows_per_mask (a [B, 1, 1, T]
// mask over [B, heads, T, T] scores has rows_per_mask = heads·T); nullptr: no mask.
void AttentionSoftmaxForward(const float* x, const float* mask, float* y, int64_t rows, int64_t cols, int64_t rows_per_mask,
                             float divisor);
// dx = y·(dy − Σ dy·y) / divisor per row: the softmax gradient, then the division's.
void AttentionSoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float divisor);
