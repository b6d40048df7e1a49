#pragma once
// Persistent worker threads for the parallel kernels.
//
// Starting a std::thread and joining it costs ~40 us on a 2-core VM, and waking one from a
// condition variable about as much: on a 0.5 ms product that is 10%. The pool keeps its workers
// between calls and lets them spin for a short while (kSpinMicros) after each call before they
// block, the way OpenBLAS and libgomp keep theirs, so back-to-back calls start at once.

#include <cstdint>
#include <functional>

namespace pysim {

// How long an idle worker spins before it blocks on a condition variable.
inline constexpr int64_t kSpinMicros = 1000;

// The hardware threads this process may run on (its CPU affinity mask where the OS has one,
// else std::thread::hardware_concurrency()), read once: glibc reads it from /sys on every call.
int64_t hardware_threads();

// Runs fn(id, team) for every id in [0, team), concurrently (ids may wait for one another), with
// 1 <= team <= threads: id 0 on the calling thread, the others on pool workers (or threads of
// the call's own when the pool is busy or small). team is less than `threads` when the OS will
// not start more threads (RLIMIT_NPROC, a memory limit) or the process is exiting; team 1 runs
// fn(0, 1) on the calling thread alone. Callers split their work by `team`, never by `threads`.
// Returns when every id has returned; rethrows the first exception one of them threw.
//
// Safe to call from several threads at once (a call that finds the pool busy starts threads of
// its own), and across fork(): pthread_atfork handlers hold the pool's lock over the fork, and
// the child drops the parent's pool (its threads do not exist there) and starts a fresh one on
// its first call. The pool is never joined: its workers end with the process.
void parallel_for_ids(int64_t threads, const std::function<void(int64_t id, int64_t team)>& fn);

}  // namespace pysim
