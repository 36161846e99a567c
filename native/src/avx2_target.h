// Where AVX2/FMA code may be compiled, and how. Only the *_avx2.cc files are compiled for AVX2, and only
// between PEFT_AVX2_BEGIN and PEFT_AVX2_END (a pragma that covers our own functions, not a command-line
// flag), so the rest of the binary stays baseline x86-64 and the addon loads on any CPU; callers check the
// CPU at run time first (gemm.cc's BestIsa()). Elsewhere (other CPUs, other compilers) PEFT_AVX2_TARGET is
// 0 and those files compile their stubs.
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PEFT_AVX2_TARGET 1
#if defined(__clang__)
#define PEFT_AVX2_BEGIN _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define PEFT_AVX2_END _Pragma("clang attribute pop")
#else
#define PEFT_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define PEFT_AVX2_END _Pragma("GCC pop_options")
#endif
#else
#define PEFT_AVX2_TARGET 0
#endif
