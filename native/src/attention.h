// BERT's self-attention core as one kernel each way: from the fused query | key | value projections to the
// context, per (batch item, head), with every step of HF's BertSelfAttention in its order — scores = q·kᵀ,
// softmax(scores / divisor + mask), dropout on the probabilities, context = probs·v — and the heads read and
// written in place in the [B, T, ·] layout, so no transpose_for_scores copies are made either way.
//
// One task per (batch item, head) on the GEMM's pool: that head's T × T scores stay in cache from the product
// through the softmax and dropout to the next product. The arithmetic is the same as running the steps as
// separate kernels (the same GEMM micro-kernel and summation order, the same softmax and dropout spans, and
// the dropout mask of the whole [B, heads, T, T] probabilities tensor), so results match those exactly.
#pragma once
#include <cstdint>

struct AttentionShape {
  int64_t batch, seq, heads, head_dim;
  float divisor;    // √head_dim: scores are divided by it (BERT), or queries before the product (divide_query)
  bool divide_query;  // DistilBERT: q / divisor, then q·kᵀ, softmax with no division
  uint32_t seed;    // dropout on the probabilities (dropout_hash.h); drop24 = 0: none
  uint32_t drop24;
};

// qkv: [B, T, 3H] (H = heads·head_dim), each row q | k | v with head h at columns h·head_dim of each third.
// mask: [B, T], added to every query's scores of that batch item (HF's extended mask; float32 min where
// masked, which gives DistilBERT's masked_fill value exactly for any score below 1e31), or nullptr.
// probs: [B, heads, T, T] out, the softmax before dropout (kept for the backward pass).
// context: [B, T, H] out, head h at columns h·head_dim (HF's context layer after its transpose and reshape).
void AttentionForward(const float* qkv, const float* mask, float* probs, float* context, const AttentionShape& s);
// dcontext: [B, T, H]; dqkv: [B, T, 3H] out, the gradients of the three projections. The dropout mask is
// re-derived from the seed, as the forward drew it.
void AttentionBackward(const float* qkv, const float* probs, const float* dcontext, float* dqkv, const AttentionShape& s);
