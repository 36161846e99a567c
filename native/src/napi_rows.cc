// Arguments as in napi_elementwise.cc: the wasm heap's ArrayBuffer, byte offsets and sizes as
// non-negative integers, then one number (eps, the attention divisor); every operand's extent is checked against the heap so that a wrong
// shape throws instead of touching memory outside it.
#include "napi_rows.h"

#include <cmath>
#include <cstdint>

#include "elementwise.h"
#include "layernorm.h"
#include "napi_heap.h"

namespace {

constexpr size_t kMaxArgs = 10;

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
