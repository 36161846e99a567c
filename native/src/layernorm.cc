#include "layernorm.h"

#include <algorithm>
#include <vector>

#include "chunks.h"
#include "gemm.h"
#include "ln_spans.h"

namespace {

const LnSpans& Spans() { return GemmIsa() == Isa::kAvx2 ? kLnAvx2 : kLnGeneric; }

struct Job {
  const LnSpans* k;
  const float *x, *gamma, *beta, *dy;
  float *y, *dx;
  double* partial;  // backward: per task, [dgamma | dbeta] sums of its rows
  int64_t rows, cols, per_task;
  float eps;
};

void ForwardTask(void* ctx, int64_t task, int) {
  const Job& j = *static_cast<const Job*>(ctx);
  const int64_t r = task * j.per_task, n = std::min(j.per_task, j.rows - r);
  j.k->forward(j.x + r * j.cols, j.gamma, j.beta, j.y + r * j.cols, n, j.cols, j.eps);
}

void BackwardTask(void* ctx, int64_t task, int) {
  const Job& j = *static_cast<const Job*>(ctx);
  const int64_t r = task * j.per_task, n = std::min(j.per_task, j.rows - r);
  double* acc = j.partial + task * 2 * j.cols;
  j.k->backward(j.dy + r * j.cols, j.x + r * j.cols, j.gamma, j.dx + r * j.cols, acc, acc + j.cols, n, j.cols, j.eps);
}

}  // namespace

void LayerNormForward(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t cols, float eps) {
  const int64_t per = RowsPerTask(cols);
  Job j{&Spans(), x, gamma, beta, nullptr, y, nullptr, nullptr, rows, cols, per, eps};
  ParallelFor(Tasks(rows, per), ForwardTask, &j);
}

void LayerNormBackward(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                       int64_t rows, int64_t cols, float eps) {
  // Rows per task from the shape alone: the order dgamma / dbeta are summed in must not depend on the thread count.
  const int64_t per = RowsPerTask(cols), tasks = Tasks(rows, per);
  std::vector<double> partial(static_cast<size_t>(tasks * 2 * cols), 0.0);
  Job j{&Spans(), x, gamma, nullptr, dy, nullptr, dx, partial.data(), rows, cols, per, eps};
  ParallelFor(tasks, BackwardTask, &j);
  // Task partials added in task order: a few thousand adds, not worth another parallel pass.
  for (int64_t c = 0; c < cols; c++) {
    double g = 0, b = 0;
    for (int64_t t = 0; t < tasks; t++) g += partial[t * 2 * cols + c], b += partial[t * 2 * cols + cols + c];
    dgamma[c] = static_cast<float>(g), dbeta[c] = static_cast<float>(b);
  }
}
