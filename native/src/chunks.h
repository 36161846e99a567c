// How the elementwise and row-wise kernels cut their work into tasks for the GEMM's pool (gemm.h's
// ParallelFor): about kChunk floats per task, enough to hide the hand-out cost, small enough that a
// few-MB tensor splits into many tasks and the threads stay balanced. Rows per task follow from the shape
// alone, so any order of summation over tasks does not depend on the thread count.
#pragma once
#include <algorithm>
#include <cstdint>

constexpr int64_t kChunk = 16384;

inline int64_t Tasks(int64_t n, int64_t per) { return (n + per - 1) / per; }

// Whole rows of `cols` floats per task, about kChunk floats in all (at least one row).
inline int64_t RowsPerTask(int64_t cols) { return std::max<int64_t>(1, kChunk / std::max<int64_t>(cols, 1)); }
