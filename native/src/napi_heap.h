// What every N-API entry point shares: the wasm heap arrives as one ArrayBuffer with byte offsets and
// sizes as plain numbers, and every operand's extent is checked against the heap before anything is read
// or written, so a wrong shape from JavaScript throws instead of touching memory outside the heap.
#pragma once

#include <node_api.h>

#include <cmath>
#include <cstddef>

struct HeapView {
  char* base = nullptr;
  double bytes = 0;
};

// `value` is an ArrayBuffer: its memory becomes `out`.
inline bool ReadHeap(napi_env env, napi_value value, HeapView* out) {
  bool is_ab = false;
  void* data = nullptr;
  size_t bytes = 0;
  if (napi_is_arraybuffer(env, value, &is_ab) != napi_ok || !is_ab) return false;
  if (napi_get_arraybuffer_info(env, value, &data, &bytes) != napi_ok) return false;
  out->base = static_cast<char*>(data);
  out->bytes = static_cast<double>(bytes);
  return true;
}

// `value` is a finite, non-negative whole number (an offset, a size).
inline bool ReadIndex(napi_env env, napi_value value, double* d) {
  return napi_get_value_double(env, value, d) == napi_ok && std::isfinite(*d) && *d >= 0 && *d == std::floor(*d);
}

// `elems` floats at byte offset `off` lie inside the heap, 4-byte aligned.
inline bool Fits(const HeapView& h, double off, double elems) { return std::fmod(off, 4) == 0 && off + 4 * elems <= h.bytes; }

inline float* At(const HeapView& h, double off) { return reinterpret_cast<float*>(h.base + static_cast<size_t>(off)); }

inline napi_value OutOfHeap(napi_env env, const char* fn) {
  napi_throw_range_error(env, nullptr, fn);
  return nullptr;
}
