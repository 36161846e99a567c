// Fused LayerNorm over the last axis for the TF.js wasm backend (engine/backend/native/layernorm.ts):
// one multithreaded pass each way instead of ~10 TF.js ops forward and ~20 backward. Row statistics are
// accumulated in double, so the results stay within float32 rounding of the stock op chain.
#pragma once
#include <cstdint>

// x is [rows, cols]; y = (x − mean)·rsqrt(var + eps)·gamma + beta per row, var biased (HF's nn.LayerNorm).
void LayerNormForward(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols, float eps);
// The gradients of the above for upstream dy: dx [rows, cols], dgamma and dbeta [cols] (sums over rows,
// in an order that depends on the shape only, never on the thread count).
void LayerNormBackward(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                       int64_t rows, int64_t cols, float eps);
