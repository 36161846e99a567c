#include "elementwise.h"

#include <algorithm>

#include "chunks.h"
#include "dropout_hash.h"
#include "ew_spans.h"
#include "gemm.h"

namespace {

const EwSpans& Spans() { return GemmIsa() == Isa::kAvx2 ? kEwAvx2 : kEwGeneric; }

struct GeluJob {
  const EwSpans* k;
  const float *x, *dy;
  float* out;
  int64_t n;
};

void GeluTask(void* ctx, int64_t task, int) {
  const GeluJob& j = *static_cast<const GeluJob*>(ctx);
  const int64_t i = task * kChunk, len = std::min(kChunk, j.n - i);
  if (j.dy) j.k->gelu_grad(j.x + i, j.dy + i, j.out + i, len);
  else j.k->gelu(j.x + i, j.out + i, len);
}

struct SumJob {
  const EwSpans* k;
  const float* x;
  float* out;
  int64_t rows, cols, per_task;
};

// Leading-axes sums split by columns: every task reads whole column blocks, so no partial sums are merged
// and the result does not depend on the thread count.
void SumColsTask(void* ctx, int64_t task, int) {
  const SumJob& j = *static_cast<const SumJob*>(ctx);
  const int64_t c = task * j.per_task;
  j.k->sum_cols(j.x + c, j.out + c, j.rows, std::min(j.per_task, j.cols - c), j.cols);
}

void SumRowsTask(void* ctx, int64_t task, int) {
  const SumJob& j = *static_cast<const SumJob*>(ctx);
  const int64_t end = std::min(j.rows, (task + 1) * j.per_task);
  for (int64_t r = task * j.per_task; r < end; r++) j.out[r] = j.k->sum_row(j.x + r * j.cols, j.cols);
}

struct DropoutJob {
  const EwSpans* k;
  const float* x;
  float* y;
  int64_t n;
  uint32_t key, drop24;
  float scale;
};

void DropoutTask(void* ctx, int64_t task, int) {
  const DropoutJob& j = *static_cast<const DropoutJob*>(ctx);
  const int64_t i = task * kChunk;
  j.k->dropout(j.x + i, j.y + i, std::min(kChunk, j.n - i), static_cast<uint32_t>(i), j.key, j.drop24, j.scale);
}

struct AddJob {
  const float *a, *b;
  float* out;
  int64_t n;
};

void AddTask(void* ctx, int64_t task, int) {
  const AddJob& j = *static_cast<const AddJob*>(ctx);
  const int64_t end = std::min(j.n, (task + 1) * kChunk);
  for (int64_t i = task * kChunk; i < end; i++) j.out[i] = j.a[i] + j.b[i];
}

struct SoftmaxJob {
  const EwSpans* k;
  const float *x, *mask, *dy;
  float* out;
  int64_t rows, cols, rows_per_mask, per_task;
  float divisor;
};

void SoftmaxTask(void* ctx, int64_t task, int) {
  const SoftmaxJob& j = *static_cast<const SoftmaxJob*>(ctx);
  const int64_t end = std::min(j.rows, (task + 1) * j.per_task);
  for (int64_t r = task * j.per_task; r < end; r++) {
    const float* m = j.mask ? j.mask + (r / j.rows_per_mask) * j.cols : nullptr;
    j.k->softmax(j.x + r * j.cols, m, j.out + r * j.cols, j.cols, j.divisor);
  }
}

void SoftmaxGradTask(void* ctx, int64_t task, int) {
  const SoftmaxJob& j = *static_cast<const SoftmaxJob*>(ctx);
  const int64_t end = std::min(j.rows, (task + 1) * j.per_task);
  for (int64_t r = task * j.per_task; r < end; r++) j.k->softmax_grad(j.x + r * j.cols, j.dy + r * j.cols, j.out + r * j.cols, j.cols, j.divisor);
}

}  // namespace

void GeluForward(const float* x, float* y, int64_t n) {
  GeluJob j{&Spans(), x, nullptr, y, n};
  ParallelFor(Tasks(n, kChunk), GeluTask, &j);
}

void GeluBackward(const float* x, const float* dy, float* dx, int64_t n) {
  GeluJob j{&Spans(), x, dy, dx, n};
  ParallelFor(Tasks(n, kChunk), GeluTask, &j);
}

void SumLeading(const float* x, float* out, int64_t rows, int64_t cols) {
  // Column blocks of a multiple of 32 (the AVX2 span's width) holding about kChunk elements.
  const int64_t per = std::max<int64_t>(32, (kChunk / std::max<int64_t>(rows, 1)) / 32 * 32);
  SumJob j{&Spans(), x, out, rows, cols, per};
  ParallelFor(Tasks(cols, per), SumColsTask, &j);
}

void SumTrailing(const float* x, float* out, int64_t rows, int64_t cols) {
  const int64_t per = RowsPerTask(cols);
  SumJob j{&Spans(), x, out, rows, cols, per};
  ParallelFor(Tasks(rows, per), SumRowsTask, &j);
}

void DropoutApply(const float* x, float* y, int64_t n, uint32_t seed, uint32_t drop24) {
  // PyTorch's scale, 1 / (1 − p), rounded once to float.
  const float scale = static_cast<float>(1.0 / (1.0 - drop24 / 16777216.0));
  DropoutJob j{&Spans(), x, y, n, DropoutKey(seed), drop24, scale};
  ParallelFor(Tasks(n, kChunk), DropoutTask, &j);
}

void AddSame(const float* a, const float* b, float* out, int64_t n) {
  AddJob j{a, b, out, n};
  ParallelFor(Tasks(n, kChunk), AddTask, &j);
}

void AttentionSoftmaxForward(const float* x, const float* mask, float* y, int64_t rows, int64_t cols, int64_t rows_per_mask,
                             float divisor) {
  const int64_t per = RowsPerTask(cols);
  SoftmaxJob j{&Spans(), x, mask, nullptr, y, rows, cols, rows_per_mask, per, divisor};
  ParallelFor(Tasks(rows, per), SoftmaxTask, &j);
}

void AttentionSoftmaxBackward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float divisor) {
  const int64_t per = RowsPerTask(cols);
  SoftmaxJob j{&Spans(), y, nullptr, dy, dx, rows, cols, 1, per, divisor};
  ParallelFor(Tasks(rows, per), SoftmaxGradTask, &j);
}
