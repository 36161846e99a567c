// A persistent thread pool: starting threads per GEMM would cost more than a small GEMM itself, and a
// training step runs a few hundred of them. Threads spin a short while before sleeping: in a training step
// the next job follows within tens of microseconds, and waking a sleeping thread (a futex) costs about as
// much again — for the many small kernels of a step that was a third of their time. Idle, they sleep.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

class ThreadPool {
 public:
  // `workers` counts the calling thread, so `workers - 1` threads are started.
  explicit ThreadPool(int workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return workers_; }
  // Runs fn(ctx, task, worker) for every task in [0, tasks), worker in [0, size()), and returns when all
  // are done. Tasks are handed out dynamically, so uneven tiles balance themselves.
  void Run(int64_t tasks, void (*fn)(void* ctx, int64_t task, int worker), void* ctx);

 private:
  void Loop(int worker);
  void Work(int worker);

  const int workers_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  // Written under mu_; read without it only by spinning threads, which take mu_ before acting on a change.
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // started threads still busy with the current generation
  void (*fn_)(void*, int64_t, int) = nullptr;
  void* ctx_ = nullptr;
  int64_t tasks_ = 0;
  std::atomic<int64_t> next_{0};
};
