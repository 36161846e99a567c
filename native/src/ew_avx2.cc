// AVX2/FMA spans. exp is Cephes' expf (range reduction by ln 2 in two parts, degree-5 polynomial, ~1 ulp);
// erf is N. Juffa's faithfully rounded erff (max error < 1 ulp given an accurate expf): one polynomial in
// x² below |x| = 0.9277, 1 − exp(polynomial in |x|) above. Only this file is compiled for AVX2 (avx2_target.h), through a
// pragma, like kernel_avx2.cc; callers check the CPU first.
#include "avx2_target.h"
#include "dropout_hash.h"
#include "ew_spans.h"

#if PEFT_AVX2_TARGET
#include <immintrin.h>

#include <cmath>

PEFT_AVX2_BEGIN

namespace {

inline __m256 Set(float v) { return _mm256_set1_ps(v); }

// exp(x); 0 below −87.33 (where float's normal range ends: the callers need no subnormals).
inline __m256 Exp(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, Set(-87.33f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, Set(-87.33f)), Set(88.37f));
  const __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, Set(1.44269504088896341f), Set(0.5f)));
  x = _mm256_fnmadd_ps(fx, Set(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, Set(-2.12194440e-4f), x);
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 y = Set(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, Set(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, Set(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, Set(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, Set(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, Set(5.0000001201e-1f));
  y = _mm256_add_ps(_mm256_fmadd_ps(y, z, x), Set(1.f));
  const __m256i pow2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(y, _mm256_castsi256_ps(pow2)));
}

inline __m256 Erf(__m256 a) {
  const __m256 sign = _mm256_and_ps(a, Set(-0.f));
  const __m256 t = _mm256_andnot_ps(Set(-0.f), a);
  const __m256 s = _mm256_mul_ps(a, a);
  // |a| ≤ 0.927734375: odd polynomial.
  __m256 lo = Set(-5.96761703e-4f);
  lo = _mm256_fmadd_ps(lo, s, Set(4.99119423e-3f));
  lo = _mm256_fmadd_ps(lo, s, Set(-2.67681349e-2f));
  lo = _mm256_fmadd_ps(lo, s, Set(1.12819925e-1f));
  lo = _mm256_fmadd_ps(lo, s, Set(-3.76125336e-1f));
  lo = _mm256_fmadd_ps(lo, s, Set(1.28379166e-1f));
  lo = _mm256_fmadd_ps(lo, a, a);
  // Above: erf is 1.0f from 3.92 on; clamping at 4 keeps the polynomial finite for huge inputs.
  const __m256 tc = _mm256_min_ps(t, Set(4.f));
  const __m256 sc = _mm256_mul_ps(tc, tc);
  __m256 r = _mm256_fmadd_ps(Set(-1.72853470e-5f), tc, Set(3.83197126e-4f));
  const __m256 u = _mm256_fmadd_ps(Set(-3.88396438e-3f), tc, Set(2.42546219e-2f));
  r = _mm256_fmadd_ps(r, sc, u);
  r = _mm256_fmadd_ps(r, tc, Set(-1.06777877e-1f));
  r = _mm256_fmadd_ps(r, tc, Set(-6.34846687e-1f));
  r = _mm256_fmadd_ps(r, tc, Set(-1.28717512e-1f));
  r = _mm256_fmadd_ps(r, tc, _mm256_sub_ps(_mm256_setzero_ps(), tc));
  const __m256 hi = _mm256_or_ps(_mm256_sub_ps(Set(1.f), Exp(r)), sign);
  return _mm256_blendv_ps(lo, hi, _mm256_cmp_ps(t, Set(0.927734375f), _CMP_GT_OQ));
}

// Loads and stores n < 8 trailing elements through a masked move, so every element takes the vector path
// (the same numbers whatever the span's length).
inline __m256i TailMask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256 GeluVec(__m256 x) {
  const __m256 e = Erf(_mm256_mul_ps(x, Set(0.70710678118654752f)));
  return _mm256_mul_ps(_mm256_mul_ps(x, Set(0.5f)), _mm256_add_ps(e, Set(1.f)));
}

inline __m256 GeluGradVec(__m256 x, __m256 dy) {
  const __m256 cdf = _mm256_mul_ps(Set(0.5f), _mm256_add_ps(Erf(_mm256_mul_ps(x, Set(0.70710678118654752f))), Set(1.f)));
  // exp(−x²/2) with x² split exactly into h + l (FMA), so large |x| lose no accuracy to the rounding of x².
  const __m256 h = _mm256_mul_ps(x, x);
  const __m256 l = _mm256_fmsub_ps(x, x, h);
  __m256 g = _mm256_mul_ps(Exp(_mm256_mul_ps(h, Set(-0.5f))), _mm256_fnmadd_ps(l, Set(0.5f), Set(1.f)));
  // Past exp's range the correction factor can be ±inf (x² overflows): the density is 0 there.
  g = _mm256_and_ps(g, _mm256_cmp_ps(h, Set(174.6f), _CMP_LT_OQ));
  const __m256 pdf = _mm256_mul_ps(g, Set(0.39894228040143268f));
  return _mm256_mul_ps(dy, _mm256_fmadd_ps(x, pdf, cdf));
}

void Gelu(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, GeluVec(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = TailMask(n - i);
    _mm256_maskstore_ps(y + i, m, GeluVec(_mm256_maskload_ps(x + i, m)));
  }
}

void GeluGrad(const float* x, const float* dy, float* dx, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dx + i, GeluGradVec(_mm256_loadu_ps(x + i), _mm256_loadu_ps(dy + i)));
  if (i < n) {
    const __m256i m = TailMask(n - i);
    _mm256_maskstore_ps(dx + i, m, GeluGradVec(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(dy + i, m)));
  }
}

void SumCols(const float* x, float* out, int64_t rows, int64_t cols, int64_t ld) {
  int64_t c = 0;
  // 32 columns at a time: four accumulators walk down the rows, each row read as one 128-byte run. Rows go
  // in blocks of kEwRowBlock, each summed on its own and then added up, which keeps the rounding error of
  // thousands of rows near that of a pairwise sum.
  for (; c + 32 <= cols; c += 32) {
    __m256 t0 = _mm256_setzero_ps(), t1 = t0, t2 = t0, t3 = t0;
    for (int64_t r0 = 0; r0 < rows; r0 += kEwRowBlock) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      const int64_t end = r0 + kEwRowBlock < rows ? r0 + kEwRowBlock : rows;
      for (int64_t r = r0; r < end; r++) {
        const float* p = x + r * ld + c;
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + 24));
      }
      t0 = _mm256_add_ps(t0, a0), t1 = _mm256_add_ps(t1, a1), t2 = _mm256_add_ps(t2, a2), t3 = _mm256_add_ps(t3, a3);
    }
    _mm256_storeu_ps(out + c, t0), _mm256_storeu_ps(out + c + 8, t1);
    _mm256_storeu_ps(out + c + 16, t2), _mm256_storeu_ps(out + c + 24, t3);
  }
  for (; c < cols; c += 8) {
    const __m256i m = TailMask(cols - c);
    __m256 t = _mm256_setzero_ps();
    for (int64_t r0 = 0; r0 < rows; r0 += kEwRowBlock) {
      __m256 a = _mm256_setzero_ps();
      const int64_t end = r0 + kEwRowBlock < rows ? r0 + kEwRowBlock : rows;
      for (int64_t r = r0; r < end; r++) a = _mm256_add_ps(a, _mm256_maskload_ps(x + r * ld + c, m));
      t = _mm256_add_ps(t, a);
    }
    _mm256_maskstore_ps(out + c, m, t);
  }
}

float SumRow(const float* x, int64_t n) {
  __m256 a = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) a = _mm256_add_ps(a, _mm256_loadu_ps(x + i));
  alignas(32) float acc[8];
  _mm256_store_ps(acc, a);
  // The generic span's order: both keep 8 partial sums, combined the same way.
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) s += x[i];
  return s;
}

// The eight lanes of v added in double.
inline double HsumDouble(__m256 v) {
  const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
  alignas(32) double d[4];
  _mm256_store_pd(d, _mm256_add_pd(lo, hi));
  return (d[0] + d[2]) + (d[1] + d[3]);
}

void Softmax(const float* x, const float* mask, float* y, int64_t n, float divisor) {
  const __m256 dv = Set(divisor);
  __m256 mx = Set(-INFINITY);
  int64_t i = 0;
  auto scores = [&](__m256 v, const float* m, __m256i lanes, bool tail) {
    const __m256 t = _mm256_div_ps(v, dv);
    return m ? _mm256_add_ps(t, tail ? _mm256_maskload_ps(m, lanes) : _mm256_loadu_ps(m)) : t;
  };
  for (; i + 8 <= n; i += 8) {
    const __m256 t = scores(_mm256_loadu_ps(x + i), mask ? mask + i : nullptr, __m256i(), false);
    _mm256_storeu_ps(y + i, t);
    mx = _mm256_max_ps(mx, t);
  }
  const __m256i tail = TailMask(n - i);
  if (i < n) {
    const __m256 t = scores(_mm256_maskload_ps(x + i, tail), mask ? mask + i : nullptr, tail, true);
    _mm256_maskstore_ps(y + i, tail, t);
    mx = _mm256_max_ps(mx, _mm256_blendv_ps(Set(-INFINITY), t, _mm256_castsi256_ps(tail)));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, mx);
  float m = lanes[0];
  for (int k = 1; k < 8; k++) m = lanes[k] > m ? lanes[k] : m;
  const __m256 mv = Set(m);
  // x − max is NaN where a score is NaN or where ±inf meets itself (an overflowed score is the maximum):
  // PyTorch's row is NaN then, and so is ours (Exp clamps, so NaN would not get through by itself).
  __m256 acc = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(y + i), mv);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(d, d, _CMP_UNORD_Q));
    const __m256 e = Exp(d);
    _mm256_storeu_ps(y + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (i < n) {
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(y + i, tail), mv);
    nan = _mm256_or_ps(nan, _mm256_and_ps(_mm256_cmp_ps(d, d, _CMP_UNORD_Q), _mm256_castsi256_ps(tail)));
    const __m256 e = _mm256_and_ps(Exp(d), _mm256_castsi256_ps(tail));
    _mm256_maskstore_ps(y + i, tail, e);
    acc = _mm256_add_ps(acc, e);
  }
  const __m256 sum = _mm256_or_ps(Set(static_cast<float>(HsumDouble(acc))), _mm256_set1_ps(_mm256_movemask_ps(nan) ? NAN : 0.f));
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_div_ps(_mm256_loadu_ps(y + i), sum));
  if (i < n) _mm256_maskstore_ps(y + i, tail, _mm256_div_ps(_mm256_maskload_ps(y + i, tail), sum));
}

void SoftmaxGrad(const float* y, const float* dy, float* dx, int64_t n, float divisor) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(dy + i), _mm256_loadu_ps(y + i), acc);
  const __m256i tail = TailMask(n - i);
  if (i < n) acc = _mm256_fmadd_ps(_mm256_maskload_ps(dy + i, tail), _mm256_maskload_ps(y + i, tail), acc);
  const __m256 dot = Set(static_cast<float>(HsumDouble(acc))), dv = Set(divisor);
  auto grad = [&](__m256 yv, __m256 g) { return _mm256_div_ps(_mm256_mul_ps(yv, _mm256_sub_ps(g, dot)), dv); };
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(dx + i, grad(_mm256_loadu_ps(y + i), _mm256_loadu_ps(dy + i)));
  if (i < n) _mm256_maskstore_ps(dx + i, tail, grad(_mm256_maskload_ps(y + i, tail), _mm256_maskload_ps(dy + i, tail)));
}

// dropout_hash.h's Triple32 on eight counters at once.
inline __m256i Triple32Vec(__m256i x) {
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 17));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0xed5ad4bbu)));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 11));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0xac4c1b51u)));
  x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
  x = _mm256_mullo_epi32(x, _mm256_set1_epi32(static_cast<int>(0x31848babu)));
  return _mm256_xor_si256(x, _mm256_srli_epi32(x, 14));
}

inline __m256 DropoutVec(__m256 x, __m256i counter, __m256i key, __m256i below, __m256 scale) {
  const __m256i h = Triple32Vec(_mm256_add_epi32(_mm256_mullo_epi32(counter, _mm256_set1_epi32(static_cast<int>(kDropoutGolden))), key));
  // The top 24 bits are < 2^24, so a signed compare is exact: kept when (h >> 8) > drop24 − 1.
  const __m256i keep = _mm256_cmpgt_epi32(_mm256_srli_epi32(h, 8), below);
  return _mm256_and_ps(_mm256_castsi256_ps(keep), _mm256_mul_ps(x, scale));
}

void Dropout(const float* x, float* y, int64_t n, uint32_t first, uint32_t key, uint32_t drop24, float scale) {
  const __m256i k = _mm256_set1_epi32(static_cast<int>(key));
  const __m256i below = _mm256_set1_epi32(static_cast<int>(drop24) - 1);
  const __m256 s = Set(scale);
  __m256i counter = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, DropoutVec(_mm256_loadu_ps(x + i), counter, k, below, s));
    counter = _mm256_add_epi32(counter, _mm256_set1_epi32(8));
  }
  if (i < n) {
    const __m256i m = TailMask(n - i);
    _mm256_maskstore_ps(y + i, m, DropoutVec(_mm256_maskload_ps(x + i, m), counter, k, below, s));
  }
}

}  // namespace

const EwSpans kEwAvx2 = {Gelu, GeluGrad, SumCols, SumRow, Softmax, SoftmaxGrad, Dropout};

PEFT_AVX2_END

#else  // not x86 or not GCC/Clang: never selected there (BestIsa() is generic).

const EwSpans kEwAvx2 = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

#endif
