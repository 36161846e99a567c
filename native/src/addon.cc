// N-API surface: configure(threads, isa), info(), gemm(heap, ...), gelu / geluGrad / sum / add / dropout
// (napi_elementwise.cc), layerNorm / layerNormGrad / attentionSoftmax / attentionSoftmaxGrad (napi_rows.cc). Operands are byte offsets into
// one ArrayBuffer (the TF.js wasm heap), so tensors are read and written in place, never copied.
#include <node_api.h>

#include <cmath>
#include <cstring>
#include <string>

#include "gemm.h"
#include "napi_elementwise.h"
#include "napi_rows.h"

namespace {

#define CHECK_NAPI(env, call)                                     \
  do {                                                            \
    if ((call) != napi_ok) {                                      \
      napi_throw_error((env), nullptr, "peft_native: " #call);    \
      return nullptr;                                             \
    }                                                             \
  } while (0)

bool GetNumber(napi_env env, napi_value v, double* out) {
  return napi_get_value_double(env, v, out) == napi_ok && std::isfinite(*out);
}

// Transpose flags come as booleans from TF.js attrs; numbers 0/1 are accepted too.
bool GetNumberOrBool(napi_env env, napi_value v, double* out) {
  bool flag = false;
  if (napi_get_value_bool(env, v, &flag) == napi_ok) return *out = flag ? 1 : 0, true;
  return GetNumber(env, v, out);
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value obj, threads, isa, best;
  CHECK_NAPI(env, napi_create_object(env, &obj));
  CHECK_NAPI(env, napi_create_int32(env, GemmThreads(), &threads));
  CHECK_NAPI(env, napi_create_string_utf8(env, IsaName(GemmIsa()), NAPI_AUTO_LENGTH, &isa));
  CHECK_NAPI(env, napi_create_string_utf8(env, IsaName(BestIsa()), NAPI_AUTO_LENGTH, &best));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "threads", threads));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "isa", isa));
  CHECK_NAPI(env, napi_set_named_property(env, obj, "bestIsa", best));
  return obj;
}

// configure(threads: number, isa: 'auto' | 'avx2' | 'generic'): an unavailable 'avx2' becomes 'generic'.
napi_value Configure(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  double threads = 1;
  if (argc < 1 || !GetNumber(env, argv[0], &threads) || threads < 1 || threads > 1024) {
    napi_throw_range_error(env, nullptr, "peft_native.configure: threads must be a number in [1, 1024]");
    return nullptr;
  }
  Isa isa = BestIsa();
  if (argc >= 2) {
    char name[16] = {0};
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) != napi_ok) {
      napi_throw_type_error(env, nullptr, "peft_native.configure: isa must be a string");
      return nullptr;
    }
    if (std::strcmp(name, "generic") == 0) isa = Isa::kGeneric;
    else if (std::strcmp(name, "avx2") == 0) isa = Isa::kAvx2;
    else if (std::strcmp(name, "auto") != 0) {
      napi_throw_range_error(env, nullptr, "peft_native.configure: isa must be auto, avx2 or generic");
      return nullptr;
    }
  }
  GemmConfigure(static_cast<int>(threads), isa);
  return Info(env, info);
}

// gemm(heap, aOff, bOff, cOff, batch, m, n, k, strideA, strideB, transA, transB, biasOff, act, alpha).
// Offsets are in bytes (biasOff < 0: no bias), strides in elements. Every operand's extent is checked
// against the heap so that a wrong shape throws instead of writing past the buffer.
napi_value GemmCall(napi_env env, napi_callback_info info) {
  constexpr size_t kArgs = 15;
  size_t argc = kArgs;
  napi_value argv[kArgs];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  bool is_ab = false;
  if (argc != kArgs || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) {
    napi_throw_type_error(env, nullptr, "peft_native.gemm: expected (ArrayBuffer, 14 numbers)");
    return nullptr;
  }
  void* data = nullptr;
  size_t bytes = 0;
  CHECK_NAPI(env, napi_get_arraybuffer_info(env, argv[0], &data, &bytes));
  // v: aOff bOff cOff batch m n k strideA strideB transA transB biasOff act | alpha
  double v[kArgs - 1];
  for (size_t i = 0; i < kArgs - 1; i++) {
    const bool integral = i < kArgs - 2;
    const bool flag = i == 9 || i == 10;
    const bool got = flag ? GetNumberOrBool(env, argv[i + 1], &v[i]) : GetNumber(env, argv[i + 1], &v[i]);
    if (!got || (integral && v[i] != std::floor(v[i]))) {
      napi_throw_type_error(env, nullptr, "peft_native.gemm: arguments must be finite numbers (integers but alpha; flags may be booleans)");
      return nullptr;
    }
  }
  const double a_off = v[0], b_off = v[1], c_off = v[2], batch = v[3], m = v[4], n = v[5], k = v[6];
  const double stride_a = v[7], stride_b = v[8], bias_off = v[11], act = v[12];
  const bool dims_ok = batch >= 0 && m >= 0 && n >= 0 && k >= 0 && stride_a >= 0 && stride_b >= 0;
  const double total = static_cast<double>(bytes);
  auto fits = [&](double off, double elems) {
    return off >= 0 && std::fmod(off, 4) == 0 && off + 4 * elems <= total;
  };
  const double last = batch > 0 ? batch - 1 : 0;
  const bool any = batch > 0 && m > 0 && n > 0;
  const bool ok = dims_ok && act >= kLinear && act <= kElu &&
                  (!any || (fits(a_off, stride_a * last + m * k) && fits(b_off, stride_b * last + k * n) &&
                            fits(c_off, batch * m * n) && (bias_off < 0 || fits(bias_off, n))));
  if (!ok) {
    napi_throw_range_error(env, nullptr, "peft_native.gemm: operand shapes or offsets fall outside the heap");
    return nullptr;
  }
  char* base = static_cast<char*>(data);
  GemmParams p;
  p.a = reinterpret_cast<const float*>(base + static_cast<size_t>(a_off));
  p.b = reinterpret_cast<const float*>(base + static_cast<size_t>(b_off));
  p.c = reinterpret_cast<float*>(base + static_cast<size_t>(c_off));
  p.batch = static_cast<int64_t>(batch), p.m = static_cast<int64_t>(m), p.n = static_cast<int64_t>(n), p.k = static_cast<int64_t>(k);
  p.stride_a = static_cast<int64_t>(stride_a), p.stride_b = static_cast<int64_t>(stride_b);
  p.trans_a = v[9] != 0, p.trans_b = v[10] != 0;
  p.bias = bias_off < 0 ? nullptr : reinterpret_cast<const float*>(base + static_cast<size_t>(bias_off));
  p.act = static_cast<Activation>(static_cast<int>(act));
  p.alpha = static_cast<float>(v[13]);
  Gemm(p);
  return nullptr;
}

// A writable method (napi_default_method), so that tests can wrap one to see which calls reach it.
napi_property_descriptor Method(const char* name, napi_callback fn) {
  return {name, nullptr, fn, nullptr, nullptr, nullptr, napi_default_method, nullptr};
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      Method("configure", Configure),
      Method("info", Info),
      Method("gemm", GemmCall),
      Method("gelu", GeluCall),
      Method("geluGrad", GeluGradCall),
      Method("add", AddCall),
      Method("gatherRows", GatherRowsCall),
      Method("dropout", DropoutCall),
      Method("sum", SumCall),
      Method("layerNorm", LayerNormCall),
      Method("layerNormGrad", LayerNormGradCall),
      Method("attentionSoftmax", AttentionSoftmaxCall),
      Method("attentionSoftmaxGrad", AttentionSoftmaxGradCall),
      Method("attention", AttentionCall),
      Method("attentionGrad", AttentionGradCall),
      Method("attentionPrefix", AttentionPrefixCall),
      Method("attentionPrefixGrad", AttentionPrefixGradCall),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return nullptr;
  return exports;
}
