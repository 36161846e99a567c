// The portable kernel: plain loops over a fixed MR × NR accumulator that the compiler vectorises with the
// baseline ISA (SSE2 on x86-64, NEON on arm64). Used where AVX2/FMA is absent, and by tests.
#include "tile_job.h"

static void MicroKernel(int64_t kc, const float* pa, const float* pb, float* c, int64_t ldc, int64_t mr,
                        int64_t nr, int accumulate) {
  float acc[PEFT_MR][PEFT_NR] = {};
  for (int64_t p = 0; p < kc; p++) {
    for (int r = 0; r < PEFT_MR; r++) {
      const float a = pa[p * PEFT_MR + r];
      for (int j = 0; j < PEFT_NR; j++) acc[r][j] += a * pb[p * PEFT_NR + j];
    }
  }
  for (int64_t r = 0; r < mr; r++) {
    float* cr = c + r * ldc;
    for (int64_t j = 0; j < nr; j++) cr[j] = accumulate ? cr[j] + acc[r][j] : acc[r][j];
  }
}

#include "tile_impl.h"

void RunTileGeneric(const TileJob* t, float* bufA, float* bufB) { RunTile(t, bufA, bufB); }
