#include "softmax.h"

#include <algorithm>

#include "ew_spans.h"
#include "gemm.h"

namespace {

// Elements per task, as in elementwise.cc.
constexpr int64_t kChunk = 16384;

const EwSpans& Spans() { return GemmIsa() == Isa::kAvx2 ? kEwAvx2 : kEwGeneric; }

struct Job {
  const EwSpans* k;
  const float *x, *mask, *dy;
  float* out;
  int64_t rows, cols, rows_per_mask, per_task;
  float divisor;
};

void ForwardTask(void* ctx, int64_t task, int) {
  const Job& j = *static_cast<const Job*>(ctx);
  const int64_t end = std::min(j.rows, (task + 1) * j.per_task);
  for (int64_t r = task * j.per_task; r < end; r++) {
    const float* m = j.mask ? j.mask + (r / j.rows_per_mask) * j.cols : nullptr;
    j.k->softmax(j.x + r * j.cols, m, j.out + r * j.cols, j.cols, j.divisor);
  }
}

void BackwardTask(void* ctx, int64_t task, int) {
  const Job& j = *static_cast<const Job*>(ctx);
  const int64_t end = std::min(j.rows, (task + 1) * j.per_task);
  for (int64_t r = task * j.per_task; r < end; r++) j.k->softmax_grad(j.x + r * j.cols, j.dy + r * j.cols, j.out + r * j.cols, j.cols, j.divisor);
}

int64_t RowsPerTask(int64_t cols) { return std::max<int64_t>(1, kChunk / std::max<int64_t>(cols, 1)); }

}  // namespace

void AttentionSoftmaxForward(const float* x, const float* mask, float* y, int64_t rows, int64_t cols, int64_t rows_per_mask,
                             float divisor) {
  const int64_t per = RowsPerTask(cols);
  Job j{&Spans(), x, mask, nullptr, y, rows, cols, rows_per_mask, per, divisor};
  ParallelFor((rows + per - 1) / per, ForwardTask, &j);
}

void AttentionSoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float divisor) {
  const int64_t per = RowsPerTask(cols);
  Job j{&Spans(), y, nullptr, dy, dx, rows, cols, 1, per, divisor};
  ParallelFor((rows + per - 1) / per, BackwardTask, &j);
}
