// Portable spans: erf and exp in double precision from the C library, then rounded once to float, so the
// generic GELU is correctly rounded up to one final rounding (and a reference for the AVX2 one).
#include <algorithm>
#include <cmath>
#include <vector>

#include "dropout_hash.h"
#include "ew_spans.h"

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

void Gelu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float u = x[i] * static_cast<float>(kSqrtHalf);
    const float e = static_cast<float>(std::erf(static_cast<double>(u)));
    y[i] = (x[i] * 0.5f) * (e + 1.f);
  }
}

void GeluGrad(const float* x, const float* dy, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const double v = x[i];
    const double cdf = 0.5 * (1 + std::erf(v * kSqrtHalf));
    dx[i] = static_cast<float>(dy[i] * (cdf + v * std::exp(-0.5 * v * v) * kInvSqrt2Pi));
  }
}

void SumCols(const float* x, float* out, int64_t rows, int64_t cols, int64_t ld) {
  // Row blocks summed separately, then added: the AVX2 span's order, so both give the same numbers.
  std::vector<float> part(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; c++) out[c] = 0.f;
  for (int64_t r0 = 0; r0 < rows; r0 += kEwRowBlock) {
    std::fill(part.begin(), part.end(), 0.f);
    const int64_t end = std::min(rows, r0 + kEwRowBlock);
    for (int64_t r = r0; r < end; r++)
      for (int64_t c = 0; c < cols; c++) part[c] += x[r * ld + c];
    for (int64_t c = 0; c < cols; c++) out[c] += part[c];
  }
}

float SumRow(const float* x, int64_t n) {
  // Eight partial sums, as the AVX2 span keeps: both orders are as close to the exact sum, and the loop vectorises.
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += x[i + j];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) s += x[i];
  return s;
}

void Softmax(const float* x, const float* mask, float* y, int64_t n, float divisor) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    float t = x[i] / divisor;
    if (mask) t = t + mask[i];
    y[i] = t;
    mx = t > mx ? t : mx;
  }
  // x − max is NaN where a score is NaN or where ±inf meets itself: the row is NaN then, as in PyTorch.
  bool nan = false;
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    const float d = y[i] - mx;
    nan |= d != d;
    const float e = static_cast<float>(std::exp(static_cast<double>(d)));
    y[i] = e;
    s += e;
  }
  const float sum = nan ? NAN : static_cast<float>(s);
  for (int64_t i = 0; i < n; i++) y[i] = y[i] / sum;
}

void SoftmaxGrad(const float* y, const float* dy, float* dx, int64_t n, float divisor) {
  double dot = 0;
  for (int64_t i = 0; i < n; i++) dot += static_cast<double>(dy[i]) * y[i];
  const float d = static_cast<float>(dot);
  for (int64_t i = 0; i < n; i++) dx[i] = (y[i] * (dy[i] - d)) / divisor;
}

void Dropout(const float* x, float* y, int64_t n, uint32_t first, uint32_t key, uint32_t drop24, float scale) {
  for (int64_t i = 0; i < n; i++) {
    const uint32_t h = DropoutTriple32((first + static_cast<uint32_t>(i)) * kDropoutGolden + key);
    y[i] = (h >> 8) >= drop24 ? x[i] * scale : 0.f;
  }
}

}  // namespace

const EwSpans kEwGeneric = {Gelu, GeluGrad, SumCols, SumRow, Softmax, SoftmaxGrad, Dropout};
