// The portable kernel, for CPUs without AVX2/FMA (and non-x86 ones). Written with GCC/Clang vector
// extensions, which lower to SSE2 on x86-64 and NEON on arm64: plain scalar loops over a 6 × 16 block
// were left unvectorised (2 GFLOP/s, slower than the wasm backend). Baseline x86-64 has 16 vector
// registers, so the block is done as two 6 × 8 halves: 12 accumulators + 2 B vectors + 1 A broadcast.
#include "tile_job.h"

#if defined(__GNUC__) || defined(__clang__)

typedef float v4 __attribute__((vector_size(16)));

static inline v4 Load4(const float* p) {
  v4 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static void MicroKernel(int64_t kc, const float* pa, int64_t rs, int64_t cs, const float* pb, float* c, int64_t ldc,
                        int64_t mr, int64_t nr, int accumulate, const float* bias) {
  float acc[PEFT_MR][PEFT_NR];
  for (int half = 0; half < 2; half++) {
    v4 c0[PEFT_MR] = {}, c1[PEFT_MR] = {};
    const float* a = pa;
    const float* b = pb + 8 * half;
    for (int64_t p = 0; p < kc; p++, a += cs, b += PEFT_NR) {
      const v4 b0 = Load4(b), b1 = Load4(b + 4);
      for (int r = 0; r < PEFT_MR; r++) {
        const float ar = a[r * rs];
        const v4 av = {ar, ar, ar, ar};
        c0[r] += av * b0;
        c1[r] += av * b1;
      }
    }
    for (int r = 0; r < PEFT_MR; r++) memcpy(&acc[r][8 * half], &c0[r], 16), memcpy(&acc[r][8 * half + 4], &c1[r], 16);
  }
  for (int64_t r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    for (int64_t j = 0; j < nr; j++) {
      const float v = accumulate ? cr[j] + acc[r][j] : acc[r][j];
      cr[j] = bias ? v + bias[j] : v;
    }
  }
}

#else  // other compilers: scalar loops

static void MicroKernel(int64_t kc, const float* pa, int64_t rs, int64_t cs, const float* pb, float* c, int64_t ldc,
                        int64_t mr, int64_t nr, int accumulate, const float* bias) {
  float acc[PEFT_MR][PEFT_NR] = {};
  for (int64_t p = 0; p < kc; p++) {
    for (int r = 0; r < PEFT_MR; r++) {
      const float a = pa[p * cs + r * rs];
      for (int j = 0; j < PEFT_NR; j++) acc[r][j] += a * pb[p * PEFT_NR + j];
    }
  }
  for (int64_t r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    for (int64_t j = 0; j < nr; j++) {
      const float v = accumulate ? cr[j] + acc[r][j] : acc[r][j];
      cr[j] = bias ? v + bias[j] : v;
    }
  }
}

#endif

#include "tile_impl.h"

void RunTileGeneric(const TileJob* t, float* bufA, float* bufB) { RunTile(t, bufA, bufB); }

void PackBPanel(const TileJob* t, int64_t k0, int64_t kc, float* dst) { PackB(t, k0, kc, dst); }
