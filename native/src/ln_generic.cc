// Portable LayerNorm rows. Mean and variance are summed in double; everything a stock TF.js op would
// round to float32 (mean, x − mean, var + eps, rsqrt, each product) is rounded here too, in the same
// order as layers.ts's stock expression, so the two differ by a few float32 roundings at most.
#include <cmath>

#include "ln_spans.h"

PEFT_LN_NO_FP_CONTRACT

namespace {

LnStats RowStats(const float* x, int64_t n, float eps) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  const double mean = s / static_cast<double>(n);
  double v = 0;
  for (int64_t i = 0; i < n; i++) v += (x[i] - mean) * (x[i] - mean);
  const float var_eps = static_cast<float>(v / static_cast<double>(n)) + eps;
  return {static_cast<float>(mean), static_cast<float>(1.0 / std::sqrt(static_cast<double>(var_eps)))};
}

void Forward(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; r++, x += cols, y += cols) {
    const LnStats st = RowStats(x, cols, eps);
    for (int64_t c = 0; c < cols; c++) y[c] = ((x[c] - st.mean) * st.rstd) * gamma[c] + beta[c];
  }
}

void Backward(const float* dy, const float* x, const float* gamma, float* dx, double* dg, double* db, int64_t rows,
              int64_t cols, float eps) {
  for (int64_t r = 0; r < rows; r++, x += cols, dy += cols, dx += cols) {
    const LnStats st = RowStats(x, cols, eps);
    // dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·gamma, x̂ the normalised row.
    double sg = 0, sgx = 0;
    for (int64_t c = 0; c < cols; c++) {
      const float xh = (x[c] - st.mean) * st.rstd, g = dy[c] * gamma[c];
      sg += g, sgx += static_cast<double>(g) * xh;
      dg[c] += static_cast<double>(dy[c]) * xh, db[c] += dy[c];
    }
    const float mg = static_cast<float>(sg / cols), mgx = static_cast<float>(sgx / cols);
    for (int64_t c = 0; c < cols; c++) {
      const float xh = (x[c] - st.mean) * st.rstd;
      dx[c] = st.rstd * ((dy[c] * gamma[c] - mg) - xh * mgx);
    }
  }
}

}  // namespace

const LnSpans kLnGeneric = {Forward, Backward};
