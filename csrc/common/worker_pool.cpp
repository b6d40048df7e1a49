#include "common/worker_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PYSIM_CPU_RELAX() _mm_pause()
#else
#define PYSIM_CPU_RELAX() std::this_thread::yield()
#endif

#ifdef __GLIBCXX__
#include <cxxabi.h>
#endif
#ifndef _WIN32
#include <pthread.h>
#include <unistd.h>
#endif
#ifdef __linux__
#include <sched.h>
#endif

namespace pysim {

namespace {

using Clock = std::chrono::steady_clock;
using Job = std::function<void(int64_t, int64_t)>;

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

void run_guarded(const Job& fn, int64_t id, int64_t team, FirstError& error) {
  try {
    fn(id, team);
#ifdef __GLIBCXX__
  } catch (abi::__forced_unwind&) {  // pthread_exit / cancellation: let the thread unwind
    throw;
#endif
  } catch (...) {
    error.capture();
  }
}

// Starts a thread running fn, or returns false when the OS will not start one (EAGAIN under
// RLIMIT_NPROC, ENOMEM / EAGAIN under a memory limit): the callers then run with fewer threads,
// never std::terminate.
template <class Fn>
bool try_start(std::vector<std::thread>& threads, Fn&& fn) {
  try {
    threads.emplace_back(std::forward<Fn>(fn));
    return true;
  } catch (const std::system_error&) {
    return false;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

// One call at a time: the caller publishes the job and bumps `generation_`; every worker runs
// its id (or nothing, if its id is past the call's team) and decrements `pending_`.
// Workers are never joined: the pool lives until the process ends (a static destructor joining
// threads at interpreter exit could run after the threads' own state is gone), and a child
// after fork() leaks its copy of the parent's pool, whose threads it does not have.
class Pool {
 public:
  // Starts up to `workers` threads; fewer if the OS refuses (size() says how many started).
  explicit Pool(int64_t workers) : pid_(current_pid()) {
    try {
      threads_.reserve(static_cast<size_t>(workers));
    } catch (const std::bad_alloc&) {
      return;
    }
    for (int64_t i = 0; i < workers; ++i) {
      if (!try_start(threads_, [this, i] { work(i + 1); })) break;
      threads_.back().detach();
    }
  }

  int64_t size() const { return static_cast<int64_t>(threads_.size()); }
  int64_t pid() const { return pid_; }
  std::mutex& call_mutex() { return call_mu_; }

  // The caller holds call_mutex() and team - 1 <= size().
  void run(int64_t team, const Job& fn) {
    job_ = &fn;
    job_team_ = team;
    pending_.store(size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleep_mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    sleep_cv_.notify_all();
    run_guarded(fn, 0, team, error_);
    while (pending_.load(std::memory_order_acquire) != 0) PYSIM_CPU_RELAX();
    job_ = nullptr;
    error_.rethrow();
  }

 private:
  void work(int64_t id) {
    uint64_t seen = 0;
    for (;;) {
      seen = wait_for_job(seen);
      if (id < job_team_) run_guarded(*job_, id, job_team_, error_);
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
  const Job* job_ = nullptr;
  int64_t job_team_ = 0;
  FirstError error_;
};

// The process's pool, one worker per extra hardware thread (at most 63), started on first use.
// g_pool_mu guards g_pool; the fork handlers below hold it across fork() so that a child never
// inherits it locked by a parent thread that was starting the pool (that thread does not exist
// in the child, and the child's first parallel call would wait on the lock forever).
std::mutex g_pool_mu;
Pool* g_pool = nullptr;
std::atomic<bool> g_exiting{false};  // set by atexit: start no threads while the process ends

#ifndef _WIN32
void before_fork() { g_pool_mu.lock(); }
void after_fork_in_parent() { g_pool_mu.unlock(); }
void after_fork_in_child() {
  g_pool = nullptr;  // the parent's workers do not exist here; the next call starts a new pool
  g_pool_mu.unlock();  // held by this (the forking) thread since before_fork
}
#endif

void mark_exiting() { g_exiting.store(true, std::memory_order_relaxed); }

// Registered when the library is loaded, before any thread can start a pool; and the thread
// count read then too: a function-local static first built by one thread while another forks
// leaves the child waiting on its guard forever (the fork handlers guard g_pool_mu alone).
const bool g_handlers_registered = [] {
#ifndef _WIN32
  pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
#endif
  std::atexit(mark_exiting);
  (void)hardware_threads();
  return true;
}();

// The pool, started on the first call (and again in a child after fork()); nullptr while the
// process is exiting.
Pool* pool() {
  std::lock_guard<std::mutex> lock(g_pool_mu);
  if (g_exiting.load(std::memory_order_relaxed)) return nullptr;
  if (g_pool == nullptr || g_pool->pid() != current_pid()) {  // pid: a fork without handlers
    g_pool = new Pool(std::min<int64_t>(hardware_threads(), 64) - 1);
  }
  return g_pool;
}

// Ids 1.. on threads of this call's own, as many as the OS starts; the team is fixed once they
// are started (each waits for it), so a refused thread shrinks the team instead of failing.
void run_own_threads(int64_t threads, const Job& fn) {
  FirstError error;
  std::atomic<int64_t> team{0};
  std::vector<std::thread> own;
  try {
    own.reserve(static_cast<size_t>(threads - 1));
  } catch (const std::bad_alloc&) {
    threads = 1;
  }
  for (int64_t id = 1; id < threads; ++id) {
    const bool started = try_start(own, [&fn, &error, &team, id] {
      int64_t t = 0;
      while ((t = team.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
      run_guarded(fn, id, t, error);
    });
    if (!started) break;
  }
  const int64_t t = static_cast<int64_t>(own.size()) + 1;
  team.store(t, std::memory_order_release);
  run_guarded(fn, 0, t, error);
  for (auto& th : own) th.join();
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

void parallel_for_ids(int64_t threads, const Job& fn) {
  (void)g_handlers_registered;
  Pool* p = threads > 1 ? pool() : nullptr;
  if (p == nullptr) {  // one thread asked for, or the process is exiting
    fn(0, 1);
    return;
  }
  std::unique_lock<std::mutex> lock(p->call_mutex(), std::try_to_lock);
  if (!lock.owns_lock() || threads - 1 > p->size()) {
    if (lock.owns_lock()) lock.unlock();
    run_own_threads(threads, fn);  // the pool is busy with another caller, or too small
    return;
  }
  p->run(threads, fn);
}

}  // namespace pysim
