// The unit of work of the blocked GEMM: one C tile (mc × nc, all of K) of one batch item, and the
// ISA-specific functions that compute it (kernel_generic.cc, kernel_avx2.cc).
#pragma once
#include <stdint.h>
#include <string.h>

#define PEFT_MR 6
#define PEFT_NR 16
#define PEFT_KC 256

struct TileJob {
  const float* a;  // this batch item's A
  const float* b;  // this batch item's B
  float* c;        // this batch item's C, [m, n]
  int64_t m, n, k;
  int trans_a, trans_b;
  // Row strides in floats of A and B as stored ([m, k] or [k, m]; [k, n] or [n, k]) and of C: the rows of a
  // matrix that is a column block of a wider one (one attention head of [T, 3H] projections) are further apart.
  int64_t lda, ldb, ldc;
  int64_t i0, j0, mc, nc;  // the tile
  // B already packed for all of K and N (PackBPanels), shared by every tile of this batch item; nullptr:
  // each tile packs its own panel. n_pad is N rounded up to NR.
  const float* packed_b;
  int64_t n_pad;
  const float* bias;  // [n], added as the last K slice is stored; nullptr: none
};

// Packs columns [j0, j0 + nc) of B's K slice [k0, k0 + kc) into NR-wide slivers at dst, as a tile does
// (tile_impl.h); where B is shared by many tiles, gemm.cc packs it once with this instead.
void PackBPanel(const TileJob* t, int64_t k0, int64_t kc, float* dst);

// bufA holds round_up(mc, MR)·KC floats, bufB KC·round_up(nc, NR); both 64-byte aligned.
void RunTileGeneric(const TileJob* t, float* bufA, float* bufB);
// Only call when HaveAvx2Kernel() and the CPU reports AVX2 and FMA.
void RunTileAvx2(const TileJob* t, float* bufA, float* bufB);
bool HaveAvx2Kernel();
