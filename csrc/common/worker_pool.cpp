#include "common/worker_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PYSIM_CPU_RELAX() _mm_pause()
#else
#define PYSIM_CPU_RELAX() std::this_thread::yield()
#endif

#ifndef _WIN32
#include <unistd.h>
#endif
#ifdef __linux__
#include <sched.h>
#endif

namespace pysim {

namespace {

using Clock = std::chrono::steady_clock;

int64_t current_pid() {
#ifdef _WIN32
  return 0;
#else
  return static_cast<int64_t>(getpid());
#endif
}

// Collects the first exception thrown by any id of one call.
class FirstError {
 public:
  void capture() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_) error_ = std::current_exception();
  }
  void rethrow() {
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  std::mutex mu_;
  std::exception_ptr error_;
};

void run_guarded(const std::function<void(int64_t)>& fn, int64_t id, FirstError& error) {
  try {
    fn(id);
  } catch (...) {
    error.capture();
  }
}

// One call at a time: the caller publishes the job and bumps `generation_`; every worker runs
// its id (or nothing, if its id is past the call's thread count) and decrements `pending_`.
// Workers are never joined: the pool lives until the process ends (a static destructor joining
// threads at interpreter exit could run after the threads' own state is gone).
class Pool {
 public:
  explicit Pool(int64_t workers) : pid_(current_pid()) {
    threads_.reserve(static_cast<size_t>(workers));
    for (int64_t i = 0; i < workers; ++i) {
      threads_.emplace_back([this, i] { work(i + 1); });
      threads_.back().detach();
    }
  }

  int64_t size() const { return static_cast<int64_t>(threads_.size()); }
  int64_t pid() const { return pid_; }
  std::mutex& call_mutex() { return call_mu_; }

  // The caller holds call_mutex() and threads - 1 <= size().
  void run(int64_t threads, const std::function<void(int64_t)>& fn) {
    job_ = &fn;
    job_threads_ = threads;
    pending_.store(size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    sleep_cv_.notify_all();
    run_guarded(fn, 0, error_);
    while (pending_.load(std::memory_order_acquire) != 0) PYSIM_CPU_RELAX();
    job_ = nullptr;
    error_.rethrow();
  }

 private:
  void work(int64_t id) {
    uint64_t seen = 0;
    for (;;) {
      seen = wait_for_job(seen);
      if (id < job_threads_) run_guarded(*job_, id, error_);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  // Spins for kSpinMicros, then sleeps, until the generation moves past `seen`.
  uint64_t wait_for_job(uint64_t seen) {
    const auto until = Clock::now() + std::chrono::microseconds(kSpinMicros);
    for (uint32_t spins = 1;; ++spins) {
      const uint64_t g = generation_.load(std::memory_order_acquire);
      if (g != seen) return g;
      PYSIM_CPU_RELAX();
      if (spins % 256 == 0 && Clock::now() > until) break;
    }
    std::unique_lock<std::mutex> lock(sleep_mu_);
    sleep_cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    return generation_.load(std::memory_order_acquire);
  }

  const int64_t pid_;
  std::vector<std::thread> threads_;
  std::mutex call_mu_;
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> pending_{0};
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_threads_ = 0;
  FirstError error_;
};

// The process's pool, one worker per extra hardware thread (at most 63), started on first use;
// replaced (the old one leaked: its threads did not survive) in a child after fork().
std::mutex g_pool_mu;
Pool* g_pool = nullptr;

Pool& pool() {
  std::lock_guard<std::mutex> lock(g_pool_mu);
  if (g_pool == nullptr || g_pool->pid() != current_pid()) {
    g_pool = new Pool(std::min<int64_t>(hardware_threads(), 64) - 1);
  }
  return *g_pool;
}

void run_own_threads(int64_t threads, const std::function<void(int64_t)>& fn) {
  FirstError error;
  std::vector<std::thread> own;
  own.reserve(static_cast<size_t>(threads - 1));
  for (int64_t id = 1; id < threads; ++id) {
    own.emplace_back([&fn, &error, id] { run_guarded(fn, id, error); });
  }
  run_guarded(fn, 0, error);
  for (auto& t : own) t.join();
  error.rethrow();
}

}  // namespace

int64_t hardware_threads() {
  static const int64_t count = [] {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max<int64_t>(1, CPU_COUNT(&set));
#endif
    return static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return count;
}

void parallel_for_ids(int64_t threads, const std::function<void(int64_t)>& fn) {
  if (threads <= 1) {
    fn(0);
    return;
  }
  Pool& p = pool();
  std::unique_lock<std::mutex> lock(p.call_mutex(), std::try_to_lock);
  if (!lock.owns_lock() || threads - 1 > p.size()) {
    run_own_threads(threads, fn);  // the pool is busy with another caller, or too small
    return;
  }
  p.run(threads, fn);
}

}  // namespace pysim
