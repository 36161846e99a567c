// Arguments as in napi_elementwise.cc: the wasm heap's ArrayBuffer, byte offsets and sizes as
// non-negative integers, then one number (eps, the attention divisor); every operand's extent is checked against the heap so that a wrong
// shape throws instead of touching memory outside it.
#include "napi_rows.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "attention.h"
#include "elementwise.h"
#include "layernorm.h"
#include "napi_heap.h"

namespace {

constexpr size_t kMaxArgs = 16;

struct Args : HeapView {
  double v[kMaxArgs] = {};  // the integers after the heap
  double eps = 0;  // the trailing number
};

// Reads (ArrayBuffer, `count` non-negative integers, a finite number ≥ 0); throws a TypeError `fn` and returns false otherwise.
bool Read(napi_env env, napi_callback_info info, size_t count, const char* fn, Args* out) {
  size_t argc = kMaxArgs + 2;
  napi_value argv[kMaxArgs + 2];
  bool ok = count <= kMaxArgs && napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == count + 2;
  ok = ok && ReadHeap(env, argv[0], out);
  for (size_t i = 0; ok && i < count; i++) ok = ReadIndex(env, argv[i + 1], &out->v[i]);
  ok = ok && napi_get_value_double(env, argv[count + 1], &out->eps) == napi_ok && std::isfinite(out->eps) && out->eps >= 0;
  if (!ok) napi_throw_type_error(env, nullptr, fn);
  return ok;
}

}  // namespace

napi_value LayerNormCall(napi_env env, napi_callback_info info) {
  Args a;
  if (!Read(env, info, 6, "peft_native.layerNorm: expected (ArrayBuffer, xOff, gammaOff, betaOff, yOff, rows, cols, eps)", &a)) return nullptr;
  const double rows = a.v[4], cols = a.v[5], n = rows * cols;
  if (!Fits(a, a.v[0], n) || !Fits(a, a.v[1], cols) || !Fits(a, a.v[2], cols) || !Fits(a, a.v[3], n))
    return OutOfHeap(env, "peft_native.layerNorm: operands fall outside the heap");
  if (n > 0)
    LayerNormForward(At(a, a.v[0]), At(a, a.v[1]), At(a, a.v[2]), At(a, a.v[3]), static_cast<int64_t>(rows),
                     static_cast<int64_t>(cols), static_cast<float>(a.eps));
  return nullptr;
}

napi_value LayerNormGradCall(napi_env env, napi_callback_info info) {
  Args a;
  if (!Read(env, info, 8, "peft_native.layerNormGrad: expected (ArrayBuffer, dyOff, xOff, gammaOff, dxOff, dgammaOff, dbetaOff, rows, cols, eps)", &a))
    return nullptr;
  const double rows = a.v[6], cols = a.v[7], n = rows * cols;
  if (!Fits(a, a.v[0], n) || !Fits(a, a.v[1], n) || !Fits(a, a.v[2], cols) || !Fits(a, a.v[3], n) || !Fits(a, a.v[4], cols) ||
      !Fits(a, a.v[5], cols))
    return OutOfHeap(env, "peft_native.layerNormGrad: operands fall outside the heap");
  if (cols > 0)
    LayerNormBackward(At(a, a.v[0]), At(a, a.v[1]), At(a, a.v[2]), At(a, a.v[3]), At(a, a.v[4]), At(a, a.v[5]),
                      static_cast<int64_t>(rows), static_cast<int64_t>(cols), static_cast<float>(a.eps));
  return nullptr;
}

napi_value AttentionSoftmaxCall(napi_env env, napi_callback_info info) {
  Args a;
  if (!Read(env, info, 6, "peft_native.attentionSoftmax: expected (ArrayBuffer, xOff, maskOff, yOff, rows, cols, rowsPerMask, divisor)", &a))
    return nullptr;
  const double rows = a.v[3], cols = a.v[4], per_mask = a.v[5], n = rows * cols;
  if (a.eps <= 0 || (per_mask > 0 && std::fmod(rows, per_mask) != 0))
    return OutOfHeap(env, "peft_native.attentionSoftmax: the divisor must be > 0 and rowsPerMask must divide rows");
  const double mask_elems = per_mask > 0 ? rows / per_mask * cols : 0;
  if (!Fits(a, a.v[0], n) || !Fits(a, a.v[1], mask_elems) || !Fits(a, a.v[2], n))
    return OutOfHeap(env, "peft_native.attentionSoftmax: operands fall outside the heap");
  if (n > 0)
    AttentionSoftmaxForward(At(a, a.v[0]), per_mask > 0 ? At(a, a.v[1]) : nullptr, At(a, a.v[2]), static_cast<int64_t>(rows),
                            static_cast<int64_t>(cols), static_cast<int64_t>(per_mask), static_cast<float>(a.eps));
  return nullptr;
}

napi_value AttentionSoftmaxGradCall(napi_env env, napi_callback_info info) {
  Args a;
  if (!Read(env, info, 5, "peft_native.attentionSoftmaxGrad: expected (ArrayBuffer, yOff, dyOff, dxOff, rows, cols, divisor)", &a)) return nullptr;
  const double rows = a.v[3], cols = a.v[4], n = rows * cols;
  if (a.eps <= 0) return OutOfHeap(env, "peft_native.attentionSoftmaxGrad: the divisor must be > 0");
  if (!Fits(a, a.v[0], n) || !Fits(a, a.v[1], n) || !Fits(a, a.v[2], n))
    return OutOfHeap(env, "peft_native.attentionSoftmaxGrad: operands fall outside the heap");
  if (n > 0)
    AttentionSoftmaxBackward(At(a, a.v[0]), At(a, a.v[1]), At(a, a.v[2]), static_cast<int64_t>(rows), static_cast<int64_t>(cols),
                             static_cast<float>(a.eps));
  return nullptr;
}

namespace {

// An attention entry's arguments: `count` integers, the last seven divideQuery, batch, seq, heads, headDim,
// seed, drop24, then the divisor. Throws (a TypeError for the wrong kind, a RangeError out of range) and returns false.
struct AttentionArgs : Args {
  AttentionShape s;
  double probs, qkv, hidden;  // element counts of [B, heads, T, T], [B, T, 3H], [B, T, H]
};

bool ReadAttention(napi_env env, napi_callback_info info, size_t count, const char* fn, const char* usage, AttentionArgs* a) {
  if (!Read(env, info, count, usage, a)) return false;
  const size_t first = count - 6;
  const double divide_query = a->v[first - 1];
  const double b = a->v[first], t = a->v[first + 1], heads = a->v[first + 2], d = a->v[first + 3];
  const double seed = a->v[first + 4], drop24 = a->v[first + 5];
  a->hidden = b * t * heads * d;
  a->qkv = 3 * a->hidden;
  a->probs = b * heads * t * t;
  // The dropout counter is 32-bit: the probabilities tensor must not have more elements than it counts.
  if (a->eps <= 0 || divide_query > 1 || seed > 4294967295.0 || drop24 >= 16777216.0 || a->probs > 4294967296.0) {
    napi_throw_range_error(env, nullptr, fn);
    return false;
  }
  a->s = {static_cast<int64_t>(b), static_cast<int64_t>(t), static_cast<int64_t>(heads), static_cast<int64_t>(d),
          static_cast<float>(a->eps), divide_query != 0, static_cast<uint32_t>(seed), static_cast<uint32_t>(drop24)};
  return true;
}

}  // namespace

napi_value AttentionCall(napi_env env, napi_callback_info info) {
  AttentionArgs a;
  if (!ReadAttention(env, info, 12, "peft_native.attention: the divisor must be > 0, and flag, seed, rate and size in range",
                     "peft_native.attention: expected (ArrayBuffer, qkvOff, maskOff, probsOff, contextOff, hasMask, divideQuery, batch, "
                     "seq, heads, headDim, seed, drop24, divisor)",
                     &a))
    return nullptr;
  const bool has_mask = a.v[4] != 0;
  if (!Fits(a, a.v[0], a.qkv) || (has_mask && !Fits(a, a.v[1], static_cast<double>(a.s.batch) * a.s.seq)) || !Fits(a, a.v[2], a.probs) ||
      !Fits(a, a.v[3], a.hidden))
    return OutOfHeap(env, "peft_native.attention: operands fall outside the heap");
  if (a.probs > 0) AttentionForward(At(a, a.v[0]), has_mask ? At(a, a.v[1]) : nullptr, At(a, a.v[2]), At(a, a.v[3]), a.s);
  return nullptr;
}

napi_value AttentionGradCall(napi_env env, napi_callback_info info) {
  AttentionArgs a;
  if (!ReadAttention(env, info, 11, "peft_native.attentionGrad: the divisor must be > 0, and flag, seed, rate and size in range",
                     "peft_native.attentionGrad: expected (ArrayBuffer, qkvOff, probsOff, dContextOff, dQkvOff, divideQuery, batch, seq, "
                     "heads, headDim, seed, drop24, divisor)",
                     &a))
    return nullptr;
  if (!Fits(a, a.v[0], a.qkv) || !Fits(a, a.v[1], a.probs) || !Fits(a, a.v[2], a.hidden) || !Fits(a, a.v[3], a.qkv))
    return OutOfHeap(env, "peft_native.attentionGrad: operands fall outside the heap");
  if (a.probs > 0) AttentionBackward(At(a, a.v[0]), At(a, a.v[1]), At(a, a.v[2]), At(a, a.v[3]), a.s);
  return nullptr;
}

// The prefix calls' sizes: P (the prefix rows, from argument `prefix_arg`), the row width 2H of the prefix's
// keys|values and the probabilities' element count B·heads·T·(P + T). False (a RangeError thrown) when P < 1 or
// the probabilities exceed 2^32 elements.
static bool ReadPrefix(napi_env env, AttentionArgs* a, size_t prefix_arg, const char* name, double* np, double* kv_row, double* probs) {
  *np = a->v[prefix_arg];
  *kv_row = 2.0 * static_cast<double>(a->s.heads) * a->s.head_dim;
  *probs = static_cast<double>(a->s.batch) * a->s.heads * a->s.seq * (*np + a->s.seq);
  if (*np < 1 || *probs > 4294967296.0) {
    const std::string msg = std::string(name) + ": the prefix must have at least one row, and the probabilities at most 2^32 elements";
    napi_throw_range_error(env, nullptr, msg.c_str());
    return false;
  }
  a->s.prefix = static_cast<int64_t>(*np);
  return true;
}

// Prefix keys/values in front (prefix tuning): the same arguments with the prefix's offset after qkv's (and
// its gradient's after dqkv's) and the prefix length P before divideQuery; mask [B, P + T], probs [B, heads, T, P + T].
napi_value AttentionPrefixCall(napi_env env, napi_callback_info info) {
  AttentionArgs a;
  if (!ReadAttention(env, info, 14, "peft_native.attentionPrefix: the divisor must be > 0, and flag, seed, rate and size in range",
                     "peft_native.attentionPrefix: expected (ArrayBuffer, qkvOff, prefixOff, maskOff, probsOff, contextOff, hasMask, prefix, "
                     "divideQuery, batch, seq, heads, headDim, seed, drop24, divisor)",
                     &a))
    return nullptr;
  double np, kv_row, probs;
  if (!ReadPrefix(env, &a, 6, "peft_native.attentionPrefix", &np, &kv_row, &probs)) return nullptr;
  const bool has_mask = a.v[5] != 0;
  if (!Fits(a, a.v[0], a.qkv) || !Fits(a, a.v[1], np * kv_row) || (has_mask && !Fits(a, a.v[2], static_cast<double>(a.s.batch) * (np + a.s.seq))) ||
      !Fits(a, a.v[3], probs) || !Fits(a, a.v[4], a.hidden))
    return OutOfHeap(env, "peft_native.attentionPrefix: operands fall outside the heap");
  if (probs > 0) AttentionPrefixForward(At(a, a.v[0]), At(a, a.v[1]), has_mask ? At(a, a.v[2]) : nullptr, At(a, a.v[3]), At(a, a.v[4]), a.s);
  return nullptr;
}

napi_value AttentionPrefixGradCall(napi_env env, napi_callback_info info) {
  AttentionArgs a;
  if (!ReadAttention(env, info, 14, "peft_native.attentionPrefixGrad: the divisor must be > 0, and flag, seed, rate and size in range",
                     "peft_native.attentionPrefixGrad: expected (ArrayBuffer, qkvOff, prefixOff, probsOff, dContextOff, dQkvOff, dPrefixOff, "
                     "prefix, divideQuery, batch, seq, heads, headDim, seed, drop24, divisor)",
                     &a))
    return nullptr;
  double np, kv_row, probs;
  if (!ReadPrefix(env, &a, 6, "peft_native.attentionPrefixGrad", &np, &kv_row, &probs)) return nullptr;
  if (!Fits(a, a.v[0], a.qkv) || !Fits(a, a.v[1], np * kv_row) || !Fits(a, a.v[2], probs) || !Fits(a, a.v[3], a.hidden) ||
      !Fits(a, a.v[4], a.qkv) || !Fits(a, a.v[5], static_cast<double>(a.s.batch) * np * kv_row))
    return OutOfHeap(env, "peft_native.attentionPrefixGrad: operands fall outside the heap");
  if (probs > 0) AttentionPrefixBackward(At(a, a.v[0]), At(a, a.v[1]), At(a, a.v[2]), At(a, a.v[3]), At(a, a.v[4]), At(a, a.v[5]), a.s);
  return nullptr;
}
