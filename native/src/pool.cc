#include "pool.h"

ThreadPool::ThreadPool(int workers) : workers_(workers < 1 ? 1 : workers) {
  for (int w = 1; w < workers_; w++) threads_.emplace_back([this, w] { Loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Run(int64_t tasks, void (*fn)(void*, int64_t, int), void* ctx) {
  if (workers_ == 1 || tasks <= 1) {
    for (int64_t t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = fn;
    ctx_ = ctx;
    tasks_ = tasks;
    next_.store(0);
    pending_ = static_cast<int>(threads_.size());
    generation_++;
  }
  wake_.notify_all();
  Work(0);
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_ == 0; });
}

void ThreadPool::Work(int worker) {
  for (;;) {
    const int64_t t = next_.fetch_add(1);
    if (t >= tasks_) return;
    fn_(ctx_, t, worker);
  }
}

void ThreadPool::Loop(int worker) {
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    lock.unlock();
    Work(worker);
    lock.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}
