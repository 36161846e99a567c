// The AVX2/FMA kernel: a 6 × 16 register block (12 accumulators, 2 B vectors, 1 A broadcast = 15 of the
// 16 ymm registers), the classic shape for 256-bit FMA machines. Only this file is compiled for AVX2 (avx2_target.h),
// through a pragma that covers our own functions; gemm.cc calls it only after a run-time CPU check.
#include "avx2_target.h"
#include "tile_job.h"

#if PEFT_AVX2_TARGET
#include <immintrin.h>

PEFT_AVX2_BEGIN

static void MicroKernel(int64_t kc, const float* pa, int64_t rs, int64_t cs, const float* pb, float* c, int64_t ldc,
                        int64_t mr, int64_t nr, int accumulate, const float* bias) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // Row pointers: one add per row per step would cost more than these five stay-put registers.
  const float *a0 = pa, *a1 = pa + rs, *a2 = pa + 2 * rs, *a3 = pa + 3 * rs, *a4 = pa + 4 * rs, *a5 = pa + 5 * rs;
  for (int64_t q = 0; q < kc * cs; q += cs) {
    const __m256 b0 = _mm256_load_ps(pb);
    const __m256 b1 = _mm256_load_ps(pb + 8);
    __m256 a;
    a = _mm256_broadcast_ss(a0 + q), c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(a1 + q), c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(a2 + q), c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(a3 + q), c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(a4 + q), c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(a5 + q), c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
    pb += PEFT_NR;
  }
  const __m256 acc[PEFT_MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == PEFT_MR && nr == PEFT_NR) {
    for (int r = 0; r < PEFT_MR; r++) {
      float* cr = c + r * ldc;
      __m256 v0 = acc[r][0], v1 = acc[r][1];
      if (accumulate) v0 = _mm256_add_ps(_mm256_loadu_ps(cr), v0), v1 = _mm256_add_ps(_mm256_loadu_ps(cr + 8), v1);
      if (bias) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(bias)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(bias + 8));
      _mm256_storeu_ps(cr, v0);
      _mm256_storeu_ps(cr + 8, v1);
    }
    return;
  }
  // Edge tile: spill, then write only the valid corner (C has no room for the padding).
  alignas(32) float tmp[PEFT_MR][PEFT_NR];
  for (int r = 0; r < PEFT_MR; r++) _mm256_store_ps(tmp[r], acc[r][0]), _mm256_store_ps(tmp[r] + 8, acc[r][1]);
  for (int64_t r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    for (int64_t j = 0; j < nr; j++) {
      const float v = accumulate ? cr[j] + tmp[r][j] : tmp[r][j];
      cr[j] = bias ? v + bias[j] : v;
    }
  }
}

#include "tile_impl.h"

void RunTileAvx2(const TileJob* t, float* bufA, float* bufB) { RunTile(t, bufA, bufB); }

PEFT_AVX2_END

bool HaveAvx2Kernel() { return true; }

#else  // not x86 or not GCC/Clang: no AVX2 kernel; gemm.cc never calls RunTileAvx2 then.

void RunTileAvx2(const TileJob* t, float* bufA, float* bufB) { (void)t, (void)bufA, (void)bufB; }
bool HaveAvx2Kernel() { return false; }

#endif
