// Arguments as in gemm: one ArrayBuffer (the wasm heap) and byte offsets into it, every extent checked
// against the heap so that a wrong shape throws instead of touching memory outside it.
#include "napi_elementwise.h"

#include <cstdint>
#include <cstring>

#include "elementwise.h"
#include "napi_heap.h"

namespace {

struct HeapArgs : HeapView {
  double v[7] = {};  // the numbers after the heap (booleans as 0 / 1)
};

// Reads (ArrayBuffer, `count` non-negative integers or booleans); throws a TypeError naming `fn` and returns false otherwise.
bool Read(napi_env env, napi_callback_info info, size_t count, const char* fn, HeapArgs* out) {
  size_t argc = 8;
  napi_value argv[8];
  bool ok = napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == count + 1;
  ok = ok && ReadHeap(env, argv[0], out);
  for (size_t i = 0; ok && i < count; i++) {
    bool flag = false;
    if (napi_get_value_bool(env, argv[i + 1], &flag) == napi_ok) out->v[i] = flag ? 1 : 0;
    else ok = ReadIndex(env, argv[i + 1], &out->v[i]);
  }
  if (!ok) napi_throw_type_error(env, nullptr, fn);
  return ok;
}

// (ArrayBuffer, in0Off, in1Off, outOff, n): two inputs and an output of n floats each, out = fn(in0, in1).
napi_value ThreeOperandCall(napi_env env, napi_callback_info info, const char* usage, const char* out_of_heap,
                            void (*fn)(const float*, const float*, float*, int64_t)) {
  HeapArgs a;
  if (!Read(env, info, 4, usage, &a)) return nullptr;
  const double n = a.v[3];
  if (!Fits(a, a.v[0], n) || !Fits(a, a.v[1], n) || !Fits(a, a.v[2], n)) return OutOfHeap(env, out_of_heap);
  fn(At(a, a.v[0]), At(a, a.v[1]), At(a, a.v[2]), static_cast<int64_t>(n));
  return nullptr;
}

}  // namespace

napi_value GeluCall(napi_env env, napi_callback_info info) {
  HeapArgs a;
  if (!Read(env, info, 3, "peft_native.gelu: expected (ArrayBuffer, xOff, yOff, n)", &a)) return nullptr;
  const double n = a.v[2];
  if (!Fits(a, a.v[0], n) || !Fits(a, a.v[1], n)) return OutOfHeap(env, "peft_native.gelu: operands fall outside the heap");
  GeluForward(At(a, a.v[0]), At(a, a.v[1]), static_cast<int64_t>(n));
  return nullptr;
}

napi_value GeluGradCall(napi_env env, napi_callback_info info) {
  return ThreeOperandCall(env, info, "peft_native.geluGrad: expected (ArrayBuffer, xOff, dyOff, dxOff, n)",
                          "peft_native.geluGrad: operands fall outside the heap", GeluBackward);
}

napi_value SumCall(napi_env env, napi_callback_info info) {
  HeapArgs a;
  if (!Read(env, info, 5, "peft_native.sum: expected (ArrayBuffer, xOff, outOff, rows, cols, leading)", &a)) return nullptr;
  const double rows = a.v[2], cols = a.v[3];
  const bool leading = a.v[4] != 0;
  if (!Fits(a, a.v[0], rows * cols) || !Fits(a, a.v[1], leading ? cols : rows)) return OutOfHeap(env, "peft_native.sum: operands fall outside the heap");
  const auto r = static_cast<int64_t>(rows), c = static_cast<int64_t>(cols);
  if (leading) SumLeading(At(a, a.v[0]), At(a, a.v[1]), r, c);
  else SumTrailing(At(a, a.v[0]), At(a, a.v[1]), r, c);
  return nullptr;
}

napi_value DropoutCall(napi_env env, napi_callback_info info) {
  HeapArgs a;
  if (!Read(env, info, 5, "peft_native.dropout: expected (ArrayBuffer, xOff, yOff, n, seed, drop24)", &a)) return nullptr;
  const double n = a.v[2], seed = a.v[3], drop24 = a.v[4];
  // Element indices are 32-bit counters; the wasm heap (4 GB) never holds more floats than that.
  if (seed > 4294967295.0 || drop24 >= 16777216.0 || n > 4294967295.0) return OutOfHeap(env, "peft_native.dropout: seed, rate or size out of range");
  if (!Fits(a, a.v[0], n) || !Fits(a, a.v[1], n)) return OutOfHeap(env, "peft_native.dropout: operands fall outside the heap");
  DropoutApply(At(a, a.v[0]), At(a, a.v[1]), static_cast<int64_t>(n), static_cast<uint32_t>(seed), static_cast<uint32_t>(drop24));
  return nullptr;
}

napi_value AddCall(napi_env env, napi_callback_info info) {
  return ThreeOperandCall(env, info, "peft_native.add: expected (ArrayBuffer, aOff, bOff, outOff, n)",
                          "peft_native.add: operands fall outside the heap", AddSame);
}

napi_value GatherRowsCall(napi_env env, napi_callback_info info) {
  HeapArgs a;
  if (!Read(env, info, 7, "peft_native.gatherRows: expected (ArrayBuffer, xOff, idsOff, outOff, outer, dim, count, rowBytes)", &a))
    return nullptr;
  const double x_off = a.v[0], ids_off = a.v[1], out_off = a.v[2], outer = a.v[3], dim = a.v[4], count = a.v[5], row = a.v[6];
  // Rows are bytes (float32, int32 or bool data); ids are int32.
  const bool fits = x_off + outer * dim * row <= a.bytes && Fits(a, ids_off, count) && out_off + outer * count * row <= a.bytes;
  if (!fits) return OutOfHeap(env, "peft_native.gatherRows: operands fall outside the heap");
  const auto* ids = reinterpret_cast<const int32_t*>(a.base + static_cast<size_t>(ids_off));
  const auto n = static_cast<int64_t>(count);
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= dim) return OutOfHeap(env, "peft_native.gatherRows: an index is outside [0, dim)");
  const auto bytes = static_cast<size_t>(row);
  const char* src = a.base + static_cast<size_t>(x_off);
  char* dst = a.base + static_cast<size_t>(out_off);
  for (int64_t o = 0; o < static_cast<int64_t>(outer); o++) {
    const char* base = src + static_cast<size_t>(o * static_cast<int64_t>(dim)) * bytes;
    for (int64_t i = 0; i < n; i++, dst += bytes) std::memmove(dst, base + static_cast<size_t>(ids[i]) * bytes, bytes);
  }
  return nullptr;
}
