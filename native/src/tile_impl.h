// The body of the blocked GEMM, included by each ISA-specific kernel file after it defines MicroKernel.
// Everything here is `static` on purpose: each includer compiles its own copy with its own target flags,
// so no copy built for AVX2 can be picked by the linker for the baseline code.
//
// Blocking (BLIS-style): for each KC slice of K, pack the B panel (KC × nc) into NR-wide slivers and the
// A block (mc × KC) into MR-tall slivers, zero padded, then run the MR × NR register-blocked micro-kernel
// over them. A B sliver (KC·NR floats = 16 KiB) stays in L1 while the A block streams from L2.
//
// An untransposed A is not packed: its rows are read in place (a sliver's element (r, p) at a[r·lda + p]),
// which saves copying each A block once per tile; only a last sliver of fewer than MR rows is packed, with
// zero padding. A B panel shared by many tiles arrives packed once for all of them (TileJob::packed_b).
//
// The includer defines, before including this file:
//   static void MicroKernel(int64_t kc, const float* pa, int64_t rs, int64_t cs, const float* pb, float* c,
//                           int64_t ldc, int64_t mr, int64_t nr, int accumulate, const float* bias);
// where A's element (r, p) is pa[r·rs + p·cs], and which writes (accumulate ? C + acc : acc) (+ bias[j]
// when bias is not null) for the valid mr × nr corner of a tile: the bias rides on the last K slice's
// store, the same sum and rounding as adding it afterwards, without another pass over C.
#pragma once
#include "tile_job.h"

// Packs the A slivers from row ir_begin of the tile on: sliver ir at dst + (ir − ir_begin)·kc.
static void PackA(const TileJob* t, int64_t k0, int64_t kc, int64_t ir_begin, float* dst) {
  for (int64_t ir = ir_begin; ir < t->mc; ir += PEFT_MR) {
    const int64_t rows = t->mc - ir < PEFT_MR ? t->mc - ir : PEFT_MR;
    float* d = dst + (ir - ir_begin) * kc;
    if (t->trans_a) {
      // Stored [k, m]: the MR values of one k are contiguous.
      for (int64_t p = 0; p < kc; p++) {
        const float* s = t->a + (k0 + p) * t->lda + t->i0 + ir;
        int64_t r = 0;
        for (; r < rows; r++) d[p * PEFT_MR + r] = s[r];
        for (; r < PEFT_MR; r++) d[p * PEFT_MR + r] = 0.f;
      }
    } else {
      // Stored [m, k]: each row is contiguous over k.
      for (int64_t r = 0; r < PEFT_MR; r++) {
        if (r < rows) {
          const float* s = t->a + (t->i0 + ir + r) * t->lda + k0;
          for (int64_t p = 0; p < kc; p++) d[p * PEFT_MR + r] = s[p];
        } else {
          for (int64_t p = 0; p < kc; p++) d[p * PEFT_MR + r] = 0.f;
        }
      }
    }
  }
}

static void PackB(const TileJob* t, int64_t k0, int64_t kc, float* dst) {
  for (int64_t jr = 0; jr < t->nc; jr += PEFT_NR) {
    const int64_t cols = t->nc - jr < PEFT_NR ? t->nc - jr : PEFT_NR;
    float* d = dst + jr * kc;
    if (t->trans_b) {
      // Stored [n, k]: each output column is a contiguous row of B.
      for (int64_t j = 0; j < PEFT_NR; j++) {
        if (j < cols) {
          const float* s = t->b + (t->j0 + jr + j) * t->ldb + k0;
          for (int64_t p = 0; p < kc; p++) d[p * PEFT_NR + j] = s[p];
        } else {
          for (int64_t p = 0; p < kc; p++) d[p * PEFT_NR + j] = 0.f;
        }
      }
    } else {
      // Stored [k, n]: NR columns of one k are contiguous.
      for (int64_t p = 0; p < kc; p++) {
        const float* s = t->b + (k0 + p) * t->ldb + t->j0 + jr;
        float* dp = d + p * PEFT_NR;
        if (cols == PEFT_NR) {
          memcpy(dp, s, PEFT_NR * sizeof(float));
        } else {
          int64_t j = 0;
          for (; j < cols; j++) dp[j] = s[j];
          for (; j < PEFT_NR; j++) dp[j] = 0.f;
        }
      }
    }
  }
}

static void RunTile(const TileJob* t, float* bufA, float* bufB) {
  float* c = t->c + t->i0 * t->ldc + t->j0;
  const int direct = !t->trans_a;
  // With A read in place, only the rows past the last whole sliver are packed.
  const int64_t packed_from = direct ? t->mc / PEFT_MR * PEFT_MR : 0;
  for (int64_t k0 = 0; k0 < t->k; k0 += PEFT_KC) {
    const int64_t kc = t->k - k0 < PEFT_KC ? t->k - k0 : PEFT_KC;
    const float* pb = bufB;
    if (t->packed_b) pb = t->packed_b + k0 * t->n_pad + t->j0 * kc;
    else PackB(t, k0, kc, bufB);
    PackA(t, k0, kc, packed_from, bufA);
    for (int64_t jr = 0; jr < t->nc; jr += PEFT_NR) {
      const int64_t nr = t->nc - jr < PEFT_NR ? t->nc - jr : PEFT_NR;
      for (int64_t ir = 0; ir < t->mc; ir += PEFT_MR) {
        const int64_t mr = t->mc - ir < PEFT_MR ? t->mc - ir : PEFT_MR;
        float* ct = c + ir * t->ldc + jr;
        const float* bias = t->bias && k0 + kc == t->k ? t->bias + t->j0 + jr : nullptr;
        if (ir < packed_from) MicroKernel(kc, t->a + (t->i0 + ir) * t->lda + k0, t->lda, 1, pb + jr * kc, ct, t->ldc, mr, nr, k0 > 0, bias);
        else MicroKernel(kc, bufA + (ir - packed_from) * kc, 1, PEFT_MR, pb + jr * kc, ct, t->ldc, mr, nr, k0 > 0, bias);
      }
    }
  }
}
