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
  int64_t prefix = 0;  // P prefix keys/values in front of every head's own (prefix tuning); 0: none
};

// qkv: [B, T, 3H] (H = heads·head_dim), each row q | k | v with head h at columns h·head_dim of each third.
// mask: [B, T], added to every query's scores of that batch item (HF's extended mask; float32 min where
// masked, which gives DistilBERT's masked_fill value exactly for any score below 1e31), or nullptr.
// probs: [B, heads, T, T] out, the softmax before dropout (kept for the backward pass).
// context: [B, T, H] out, head h at columns h·head_dim (HF's context layer after its transpose and reshape).
void AttentionForward(const float* qkv, const float* mask, float* probs, float* context, const AttentionShape& s);
// With s.prefix = P > 0 (prefix tuning): prefix: [P, 2H], each row key | value (already projected, head h at
// columns h·head_dim of each half), shared by every batch item and put in front of that item's keys and
// values, so each query attends to S = P + T keys; mask is then [B, S] and probs [B, heads, T, S]. The
// keys and values are gathered per head into one [S, head_dim] block each, so every product runs once over
// all S keys in the order of the op-by-op form (concatenated keys).
void AttentionPrefixForward(const float* qkv, const float* prefix, const float* mask, float* probs, float* context, const AttentionShape& s);
// dprefix: [B, P, 2H] out, each batch item's share of the prefix's gradient (the caller sums over B).
void AttentionPrefixBackward(const float* qkv, const float* prefix, const float* probs, const float* dcontext, float* dqkv, float* dprefix,
                             const AttentionShape& s);
// dcontext: [B, T, H]; dqkv: [B, T, 3H] out, the gradients of the three projections. The dropout mask is
// re-derived from the seed, as the forward drew it.
void AttentionBackward(const float* qkv, const float* probs, const float* dcontext, float* dqkv, const AttentionShape& s);
