#include "pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#define PEFT_PAUSE() _mm_pause()
#else
#define PEFT_PAUSE() std::this_thread::yield()
#endif

namespace {

// How long a thread spins for the next job (or the caller for its helpers) before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(200);

// Spins until done() or kSpin has passed; true when done() came true.
template <typename Done>
bool SpinUntil(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; i++) {
    if (done()) return true;
    PEFT_PAUSE();
    // The clock costs more than a pause: read it every 64 rounds.
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= deadline) return done();
  }
}

}  // namespace

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
    pending_.store(static_cast<int>(threads_.size()));
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  Work(0);
  if (SpinUntil([this] { return pending_.load() == 0; })) return;
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [this] { return pending_.load() == 0; });
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
  for (;;) {
    SpinUntil([&] { return stop_.load() || generation_.load() != seen; });
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    if (stop_) return;
    seen = generation_.load();
    lock.unlock();
    Work(worker);
    // The last helper to finish wakes the caller, unless it is spinning (then the count is all it needs).
    if (pending_.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> done_lock(mu_);
      done_.notify_one();
    }
  }
}
