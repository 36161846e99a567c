// AVX2 LayerNorm rows: the generic rows' arithmetic (ln_generic.cc), eight columns at a time, with row
// sums widened to double four lanes at a time. No FMA in the elementwise parts (PEFT_LN_NO_FP_CONTRACT, ln_spans.h), so
// each product is rounded as the stock TF.js ops round it. Only this file is compiled for AVX2 (avx2_target.h), through a pragma, like
// kernel_avx2.cc; callers check the CPU first.
#include "avx2_target.h"
#include "ln_spans.h"

#if PEFT_AVX2_TARGET
#include <immintrin.h>

#include <cmath>

PEFT_AVX2_BEGIN
PEFT_LN_NO_FP_CONTRACT

namespace {

inline double HSum(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

inline __m256d Lo(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d Hi(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

LnStats RowStats(const float* x, int64_t n, float eps) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    s0 = _mm256_add_pd(s0, Lo(v)), s1 = _mm256_add_pd(s1, Hi(v));
  }
  double s = HSum(_mm256_add_pd(s0, s1));
  for (int64_t j = i; j < n; j++) s += x[j];
  const double mean = s / static_cast<double>(n);
  const __m256d m = _mm256_set1_pd(mean);
  __m256d v0 = _mm256_setzero_pd(), v1 = v0;
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d d0 = _mm256_sub_pd(Lo(v), m), d1 = _mm256_sub_pd(Hi(v), m);
    v0 = _mm256_fmadd_pd(d0, d0, v0), v1 = _mm256_fmadd_pd(d1, d1, v1);
  }
  double var = HSum(_mm256_add_pd(v0, v1));
  for (int64_t j = i; j < n; j++) var += (x[j] - mean) * (x[j] - mean);
  const float var_eps = static_cast<float>(var / static_cast<double>(n)) + eps;
  return {static_cast<float>(mean), static_cast<float>(1.0 / std::sqrt(static_cast<double>(var_eps)))};
}

void Forward(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; r++, x += cols, y += cols) {
    const LnStats st = RowStats(x, cols, eps);
    const __m256 mean = _mm256_set1_ps(st.mean), rstd = _mm256_set1_ps(st.rstd);
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), mean), rstd);
      _mm256_storeu_ps(y + c, _mm256_add_ps(_mm256_mul_ps(xh, _mm256_loadu_ps(gamma + c)), _mm256_loadu_ps(beta + c)));
    }
    for (; c < cols; c++) {
      y[c] = ((x[c] - st.mean) * st.rstd) * gamma[c] + beta[c];
    }
  }
}

void Backward(const float* dy, const float* x, const float* gamma, float* dx, double* dg, double* db, int64_t rows,
              int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; r++, x += cols, dy += cols, dx += cols) {
    const LnStats st = RowStats(x, cols, eps);
    const __m256 mean = _mm256_set1_ps(st.mean), rstd = _mm256_set1_ps(st.rstd);
    __m256d sg = _mm256_setzero_pd(), sgx = sg;
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), mean), rstd);
      const __m256 d = _mm256_loadu_ps(dy + c), g = _mm256_mul_ps(d, _mm256_loadu_ps(gamma + c));
      const __m256d g0 = Lo(g), g1 = Hi(g), x0 = Lo(xh), x1 = Hi(xh), d0 = Lo(d), d1 = Hi(d);
      sg = _mm256_add_pd(sg, _mm256_add_pd(g0, g1));
      sgx = _mm256_fmadd_pd(g0, x0, _mm256_fmadd_pd(g1, x1, sgx));
      _mm256_storeu_pd(dg + c, _mm256_fmadd_pd(d0, x0, _mm256_loadu_pd(dg + c)));
      _mm256_storeu_pd(dg + c + 4, _mm256_fmadd_pd(d1, x1, _mm256_loadu_pd(dg + c + 4)));
      _mm256_storeu_pd(db + c, _mm256_add_pd(d0, _mm256_loadu_pd(db + c)));
      _mm256_storeu_pd(db + c + 4, _mm256_add_pd(d1, _mm256_loadu_pd(db + c + 4)));
    }
    double sgs = HSum(sg), sgxs = HSum(sgx);
    for (int64_t j = c; j < cols; j++) {
      const float xh = (x[j] - st.mean) * st.rstd, g = dy[j] * gamma[j];
      sgs += g, sgxs += static_cast<double>(g) * xh;
      dg[j] += static_cast<double>(dy[j]) * xh, db[j] += dy[j];
    }
    const float mgs = static_cast<float>(sgs / cols), mgxs = static_cast<float>(sgxs / cols);
    const __m256 mg = _mm256_set1_ps(mgs), mgx = _mm256_set1_ps(mgxs);
    for (c = 0; c + 8 <= cols; c += 8) {
      const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), mean), rstd);
      const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dy + c), _mm256_loadu_ps(gamma + c));
      _mm256_storeu_ps(dx + c, _mm256_mul_ps(rstd, _mm256_sub_ps(_mm256_sub_ps(g, mg), _mm256_mul_ps(xh, mgx))));
    }
    for (; c < cols; c++) {
      const float xh = (x[c] - st.mean) * st.rstd;
      dx[c] = st.rstd * ((dy[c] * gamma[c] - mgs) - xh * mgxs);
    }
  }
}

}  // namespace

const LnSpans kLnAvx2 = {Forward, Backward};

PEFT_AVX2_END

#else  // not x86 or not GCC/Clang: never selected there (BestIsa() is generic).

const LnSpans kLnAvx2 = {nullptr, nullptr};

#endif
