# Built at install by scripts/build-native.mjs (never required: the wasm backend is the fallback).
# The *_avx2.cc files turn on AVX2/FMA with a pragma (avx2_target.h) for their own functions only, so the rest of the
# binary stays baseline x86-64 and the addon loads (and picks the generic kernel) on any CPU.
{
  "targets": [
    {
      "target_name": "peft_native",
      "sources": [
        "src/addon.cc",
        "src/pool.cc",
        "src/gemm.cc",
        "src/kernel_generic.cc",
        "src/kernel_avx2.cc",
        "src/elementwise.cc",
        "src/ew_generic.cc",
        "src/ew_avx2.cc",
        "src/napi_elementwise.cc",
        "src/layernorm.cc",
        "src/ln_generic.cc",
        "src/ln_avx2.cc",
        "src/napi_rows.cc",
        "src/attention.cc"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-O3"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"],
        "GCC_OPTIMIZATION_LEVEL": "3"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "Optimization": 2, "AdditionalOptions": ["/std:c++17"] }
      }
    }
  ]
}
