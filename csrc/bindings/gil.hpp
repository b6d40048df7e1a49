// Native work without the GIL: safe at interpreter exit, stoppable with Ctrl-C.
//
// Every binding that runs for more than a moment releases the GIL through GilRelease (never
// pybind11's gil_scoped_release) and, where the loop is long, passes a SignalPoll to the core.
//
// Exit: a daemon thread still inside a kernel when the interpreter finalises must not take the
// GIL back. CPython ends such a thread with pthread_exit(), whose forced unwind through a
// noexcept frame (gil_scoped_release's destructor) calls std::terminate: SIGABRT at exit.
// restore_thread() instead parks the thread until the process ends (as CPython 3.14 does with
// its own daemon threads), also when finalisation begins between its check and the call.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <functional>
#include <thread>
#include <utility>

#include "common/budget.hpp"

#ifdef __GLIBCXX__
#include <cxxabi.h>
#endif

namespace pysim::bindings {

namespace py = pybind11;

[[noreturn]] inline void park_until_exit() {
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

inline bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

// The ident of Python's main thread (threading.main_thread()), recorded when the module loads:
// the thread that finalises the interpreter, which may still take the GIL (a __del__ that
// runs a kernel while module globals are cleared must not park).
inline unsigned long& main_thread_ident() {
  static unsigned long ident = 0;
  return ident;
}
inline void remember_main_thread() {
  main_thread_ident() =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
}

// PyEval_RestoreThread(ts), or park the thread for good if the interpreter is finalising and
// this is not the thread finalising it (CPython would end it with pthread_exit).
inline void restore_thread(PyThreadState* ts) {
  if (interpreter_finalizing() && PyThread_get_thread_ident() != main_thread_ident()) {
    park_until_exit();
  }
#ifdef __GLIBCXX__
  try {
    PyEval_RestoreThread(ts);
  } catch (abi::__forced_unwind&) {
    park_until_exit();  // never leaves the handler: the unwind never reaches a noexcept frame
  }
#else
  PyEval_RestoreThread(ts);
#endif
}

// Releases the GIL for its lifetime (the caller must hold it), like py::gil_scoped_release but
// exit-safe (above). check_signals() takes the GIL for a moment to run Python's signal handlers.
class GilRelease {
 public:
  GilRelease() : ts_(PyEval_SaveThread()) {}
  ~GilRelease() { restore_thread(ts_); }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

  // Runs pending signal handlers (Ctrl-C) with the GIL; throws py::error_already_set holding
  // what a handler raised (KeyboardInterrupt), which unwinds the native call.
  void check_signals() {
    restore_thread(ts_);
    if (PyErr_CheckSignals() != 0) {
      py::error_already_set error;  // fetches the exception while the GIL is held
      ts_ = PyEval_SaveThread();
      throw error;
    }
    ts_ = PyEval_SaveThread();
  }

 private:
  PyThreadState* ts_;
};

// A core Poll that checks signals at most every 20 ms (taking the GIL costs up to a switch
// interval when other Python threads run). Call it only from the thread that made the call.
class SignalPoll {
 public:
  explicit SignalPoll(GilRelease& gil) : gil_(gil) {}
  void operator()() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    gil_.check_signals();
    next_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  }

 private:
  GilRelease& gil_;
  std::chrono::steady_clock::time_point next_{};
};

// f(poll) with the GIL released, poll a std::function<void()> checking Ctrl-C; f must not touch
// Python objects. Returns what f returns.
template <class F>
auto without_gil(F&& f) {
  GilRelease gil;
  SignalPoll signals(gil);
  const std::function<void()> poll = [&signals] { signals(); };
  return std::forward<F>(f)(poll);
}

}  // namespace pysim::bindings
