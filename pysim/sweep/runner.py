"""``sweep(hw, wl, space)``: every point of a design space on every workload, in parallel, with
checkpointing, into one DataFrame row per (point, workload).

Where points run: in this process (``jobs=1``, the default), in a local process pool
(``jobs=N``; ``-1`` for all cores), on any ``concurrent.futures.Executor`` (``executor=``,
e.g. a Dask ``client.get_executor()``), or on a Dask scheduler by address (``scheduler=``).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import pickle
import socket
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from os import PathLike
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from pysim.config import Hardware, load_hardware
from pysim.errors import require
from pysim.progress import bar as progress_bar
from pysim.sweep._worker import METRICS, evaluate, evaluate_blobs, fingerprint, point_id
from pysim.sweep.checkpoint import Checkpoint, RowKey, row_key
from pysim.sweep.space import Space
from pysim.workload import Workload, as_workload

if TYPE_CHECKING:
    import pandas as pd

SCHEDULER_TIMEOUT_S = 5.0
"""How long ``scheduler=`` waits for the Dask scheduler before giving up."""
RETRIES = 2
"""How often a point whose worker process died is run again, alone, before it is recorded
as failed."""


def _die_with_parent(parent: int) -> None:
    """Pool initializer: the worker ignores SIGINT, and on Linux the kernel kills it when the
    process that started it dies (``prctl(PR_SET_PDEATHSIG)``: the sweep's for forked workers,
    else the forkserver, which ends with the sweep), so a kill -9 of the sweep leaves no
    worker behind. ``parent``
    is the sweep's pid for forked workers, else 0."""
    import signal

    # Ctrl-C reaches the whole process group: the sweep stops its workers itself (_stop_pool);
    # a KeyboardInterrupt inside a worker would break the pool under the sweep instead.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the CLI's handler: _stop_pool's end
    if sys.platform != "linux":
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return
    if parent and os.getppid() != parent:  # a forked worker whose parent died before prctl
        os._exit(1)


@contextlib.contextmanager
def _uninterruptible() -> Iterator[None]:
    """SIGINT and SIGTERM ignored inside (in the main thread; elsewhere nothing changes)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _stop_pool(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Terminate a pool's workers (SIGTERM, then SIGKILL after ``grace_s``) and release it
    without waiting on its queues: the points they were running are not recorded, every
    finished one already is (the journal)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(grace_s)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    # The pool's manager thread sees its workers gone and fails their futures (which must not
    # be cancelled first: Python 3.11's terminate_broken raises on a cancelled one and the
    # interpreter then hangs at exit); let it finish before releasing the pool.
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(grace_s)
    pool.shutdown(wait=False)


@dataclass(frozen=True)
class Task:
    """One (point, workload) pair and its row key."""

    point: dict[str, Any]
    workload: int
    key: str


def connect(address: str, timeout_s: float = SCHEDULER_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``. Raises ValueError
    naming the address if it cannot be reached within ``timeout_s`` seconds."""
    Client = require("distributed", "a sweep on a Dask scheduler", "dask").Client
    if not isinstance(address, str) or not address:
        raise ValueError(f"scheduler must be an address such as 'tcp://host:8786', "
                         f"got {address!r}")
    _probe(address, timeout_s)
    try:
        return Client(address, timeout=f"{timeout_s}s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError by cause
        raise ValueError(f"cannot reach the Dask scheduler at {address!r} within {timeout_s:g} "
                         f"s: {type(exc).__name__}: {exc}") from None


def _probe(address: str, timeout_s: float) -> None:
    """Fail fast on a TCP address nothing listens at (Dask's client would retry until its
    timeout)."""
    scheme, sep, rest = address.rpartition("://")
    if sep and scheme != "tcp":
        return
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"scheduler address must look like 'tcp://host:port', got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None


def _mp_context() -> Any:
    """fork where it is safe (Linux, no other threads: fast, nothing re-imported), else
    forkserver or spawn."""
    methods = mp.get_all_start_methods()
    if sys.platform == "linux" and "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


def load_inputs(hw: Hardware | str | PathLike,
                wl: Workload | str | PathLike | Sequence[Workload | str | PathLike],
                training: bool = False) -> tuple[Hardware, list[Workload]]:
    """The hardware (a GPU preset as its hardware description) and the list of workloads
    (loading paths; for ``training`` a zoo name in its training form, as
    ``pysim.training.step`` loads it). Raises ValueError for two workloads with one name
    (the ``workload`` column must tell rows apart)."""
    from pysim.gpu.presets import GpuPreset

    if isinstance(hw, GpuPreset):
        hw = hw.hardware
    if not isinstance(hw, Hardware):
        hw = load_hardware(os.fspath(hw))
    items = [wl] if isinstance(wl, (Workload, str, PathLike)) else list(wl)
    if not items:
        raise ValueError("no workload given")
    if training:
        from pysim.training.step import training_form

        wls = [training_form(w) for w in items]
    else:
        wls = [as_workload(w) for w in items]
    names = [w.name for w in wls]
    if len(set(names)) != len(names):
        raise ValueError(f"workloads must have distinct names, got {names}")
    return hw, wls


def describe_sweep(hw: Hardware, workloads: list[Workload], space: Space,
                   settings: Mapping[str, Any] | None = None,
                   fingerprints: tuple[str, list[str]] | None = None) -> tuple[str, str]:
    """The id of a sweep and the description stored with its rows (JSON): its space (as a
    space file writes it), how many points it has, the hardware and workload names and
    ``settings`` (what else defines it: a search's trials, seed, objectives). The id is 8 hex
    digits of a hash of the space (with its sampled points), the base hardware, the workloads
    and ``settings``: the same sweep run again (a resume) has the same id, a widened space
    another one. ``fingerprints``: the hardware's and the workloads' (``fingerprint``), when
    the caller has them already."""
    described: dict[str, Any] = {
        "space": space.to_dict(),
        "points": len(space) if space.sampled or space.is_grid else None,
        "hardware": hw.name,
        "workloads": [w.name for w in workloads],
    }
    if settings:
        described.update(settings)
    hw_fp, wl_fps = fingerprints or (fingerprint(hw.to_dict()),
                                     [fingerprint(w.to_dict()) for w in workloads])
    identity = {"described": described, "hardware": hw_fp, "workloads": wl_fps,
                "sampled": space.points() if space.sampled else None}
    return fingerprint(identity)[:8], json.dumps(described, separators=(",", ":"),
                                                 default=repr)


class Evaluator:
    """Evaluates tasks where the caller asked, reusing and recording checkpointed rows.

    Use as a context manager: leaving it (normally or by an exception) shuts down the pool it
    started and writes the checkpoint's Parquet file with every row computed so far.
    """

    def __init__(self, hw: Hardware, workloads: list[Workload], space: Space, *,
                 jobs: int | None = None, executor: Executor | None = None,
                 scheduler: str | None = None, out: str | PathLike | None = None,
                 progress: bool | None = None, desc: str = "sweep",
                 retries: int = RETRIES, settings: Mapping[str, Any] | None = None,
                 training: Mapping[str, Any] | None = None) -> None:
        if sum(x is not None for x in (jobs, executor, scheduler)) > 1:
            raise ValueError("pass at most one of jobs=, executor= and scheduler=")
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int)
                                 or not (jobs >= 1 or jobs == -1)):
            raise ValueError(f"jobs must be an int >= 1, or -1 for all cores, got {jobs!r}")
        if executor is not None and not callable(getattr(executor, "submit", None)):
            raise ValueError(f"executor must be a concurrent.futures.Executor, got {executor!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        self.hw, self.workloads, self.space = hw, workloads, space
        # a training step of each workload (pysim.training.step's options) instead of a pass
        self.training: dict[str, Any] | None = None
        if training is not None:
            from pysim.training.step import check_options

            self.training = [check_options(w, training) for w in workloads][0]
        self.retries = retries
        self.jobs = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                     else os.cpu_count() or 1) if jobs == -1 else (jobs or 1)
        self.progress = sys.stderr.isatty() if progress is None else bool(progress)
        self.desc = desc
        self.client = connect(scheduler) if scheduler is not None else None
        self.checkpoint = Checkpoint(out) if out is not None else None
        try:
            # every stored row (of any sweep), and the metrics of each point_id among them
            self.stored: dict[RowKey, dict[str, Any]] = (self.checkpoint.load()
                                                         if self.checkpoint else {})
        except BaseException:
            if self.checkpoint is not None:
                self.checkpoint.release()
            if self.client is not None:
                self.client.close()
            raise
        self.executor: Executor | None = (self.client.get_executor() if self.client is not None
                                          else executor)
        self.cache: dict[str, dict[str, Any]] = {k[1]: r for k, r in self.stored.items()}
        self._own_pool: ProcessPoolExecutor | None = None
        self._hw_fp = fingerprint(hw.to_dict())
        self._wl_fps = [fingerprint(w.to_dict() if self.training is None else
                                    {"workload": w.to_dict(), "training": self.training})
                        for w in workloads]
        if self.training is not None:
            settings = {**(settings or {}), "training": self.training}
        self.sweep_id, self.sweep_space = describe_sweep(hw, workloads, space, settings,
                                                         (self._hw_fp, self._wl_fps))
        self._blobs: tuple[bytes, list[bytes]] | None = None
        self.computed = 0
        self.reused = 0
        self._keys: list[str] = []

    # -- tasks and rows ----------------------------------------------------------------------

    def task(self, point: dict[str, Any], workload: int) -> Task:
        return Task(point, workload, point_id(point, self._wl_fps[workload], self._hw_fp))

    def tasks(self, points: list[dict[str, Any]]) -> list[Task]:
        """One task per point and workload, points outermost."""
        return [self.task(p, j) for p in points for j in range(len(self.workloads))]

    def _row(self, task: Task, metrics: dict[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {k: _column_value(self.space, k, v) for k, v in task.point.items()}
        row["workload"] = self.workloads[task.workload].name
        row.update({m: metrics.get(m) for m in METRICS})
        error = metrics.get("error")
        row["point_id"] = task.key
        row["error"] = error if isinstance(error, str) else None
        row["sweep_id"] = self.sweep_id
        row["sweep_space"] = self.sweep_space
        return row

    # -- running -------------------------------------------------------------------------------

    def run(self, tasks: list[Task]) -> list[dict[str, Any]]:
        """The row of every task (in order): from the checkpoint where present, else
        computed."""
        todo: dict[str, Task] = {}
        for t in tasks:
            if t.key not in self.cache and t.key not in todo:
                todo[t.key] = t
        self.reused += len({t.key for t in tasks}) - len(todo)
        self._keys.extend(t.key for t in tasks)
        if todo:
            executor = self._executor_for(len(todo))
            with progress_bar(len(todo), self.desc, "pt", self.progress, leave=True) as bar:
                self._compute(list(todo.values()), executor, bar)
        return [self._row(t, self.cache[t.key]) for t in tasks]

    def _done(self, task: Task, metrics: dict[str, Any], bar: tqdm) -> None:
        row = self._row(task, metrics)
        self.cache[task.key] = row
        self.stored[row_key(row)] = row
        if self.checkpoint is not None:
            self.checkpoint.append(row)
        self.computed += 1
        bar.update()

    def _executor_for(self, n_tasks: int) -> Executor | None:
        """The executor to run ``n_tasks`` on; None: this process."""
        if self.executor is not None:
            return self.executor
        if self.jobs > 1 and n_tasks > 1:
            if self._own_pool is None:
                self._own_pool = self._pool(self.jobs)
            return self._own_pool
        return None

    @staticmethod
    def _pool(workers: int) -> ProcessPoolExecutor:
        context = _mp_context()
        parent = os.getpid() if context.get_start_method() == "fork" else 0
        return ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_die_with_parent, initargs=(parent,))

    def _compute(self, todo: list[Task], executor: Executor | None, bar: tqdm) -> None:
        if executor is None:
            for t in todo:
                self._done(t, evaluate(self.hw, self.workloads[t.workload], t.point,
                                       self.training), bar)
            return
        if self._blobs is None:
            self._blobs = (pickle.dumps(self.hw), [pickle.dumps(w) for w in self.workloads])
        hw_blob, wl_blobs = self._blobs
        futures = {executor.submit(evaluate_blobs, hw_blob, wl_blobs[t.workload], t.point,
                                   self.training): t for t in todo}
        orphans: list[Task] = []  # their worker died (or shared the pool of one that did)
        try:
            for future in as_completed(futures):
                try:
                    metrics = future.result()
                except BrokenProcessPool:
                    orphans.append(futures[future])
                    continue
                self._done(futures[future], metrics, bar)
        except BaseException:
            if executor is not self._own_pool:  # our own pool is stopped by close(abort=True)
                for future in futures:
                    future.cancel()
            raise
        if orphans:
            if executor is self._own_pool:  # a broken pool takes no more work
                self._own_pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[union-attr]
                self._own_pool = None
            for t in orphans:
                self._done(t, self._isolated(t, hw_blob, wl_blobs[t.workload]), bar)

    def _isolated(self, task: Task, hw_blob: bytes, wl_blob: bytes) -> dict[str, Any]:
        """Run a task whose worker died alone in a fresh process, up to ``retries`` + 1
        times; if every process dies, the row records it (NaN metrics and the error)."""
        for _ in range(self.retries + 1):
            pool = self._pool(1)
            try:
                return pool.submit(evaluate_blobs, hw_blob, wl_blob, task.point,
                                   self.training).result()
            except BrokenProcessPool:
                continue
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        row: dict[str, Any] = dict.fromkeys(METRICS, float("nan"))
        row["error"] = (f"WorkerDied: the worker process running this point died "
                        f"{self.retries + 1} time(s) (killed, or crashed)")
        return row

    # -- the frame and the end --------------------------------------------------------------

    def frame(self, rows: list[dict[str, Any]], leading: dict[str, list] | None = None,
              ) -> pd.DataFrame:
        """Rows as a DataFrame: ``leading`` columns, the space keys, workload, metrics,
        point_id, error, sweep_id; with the counts of computed and reused rows in ``attrs``."""
        import pandas as pd

        columns: dict[str, Any] = dict(leading or {})
        for key in self.space.keys:
            kind = self.space.column_kind(key)
            values = [r[key] for r in rows]
            dtype = {"bool": "bool", "int": "int64", "float": "float64"}.get(kind, object)
            columns[key] = pd.Series(values, dtype=dtype)
        columns["workload"] = pd.Series([r["workload"] for r in rows], dtype=object)
        for m in METRICS:
            columns[m] = pd.Series([r[m] for r in rows], dtype="float64")
        columns["point_id"] = pd.Series([r["point_id"] for r in rows], dtype=object)
        columns["error"] = pd.Series([r["error"] for r in rows], dtype=object)
        columns["sweep_id"] = pd.Series([self.sweep_id] * len(rows), dtype=object)
        df = pd.DataFrame(columns)
        df.attrs.update(computed=self.computed, reused=self.reused)
        return df

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(None, abort=exc_type is not None)

    def close(self, frame: pd.DataFrame | None, abort: bool = False) -> None:
        """Shut down the pool and client this evaluator started; write the checkpoint
        (``frame`` first if given, then every other row known). ``abort`` (an interrupt or
        an error): stop the workers instead of waiting for their points (waiting on a pool
        a KeyboardInterrupt cut into could hang for good). A second Ctrl-C or SIGTERM during
        this bounded clean-up is ignored, so the finished rows reach the Parquet file."""
        with _uninterruptible():
            self._close(frame, abort)

    def _close(self, frame: pd.DataFrame | None, abort: bool) -> None:
        if self._own_pool is not None:
            if abort:
                _stop_pool(self._own_pool)
            else:
                self._own_pool.shutdown(wait=True, cancel_futures=True)
            self._own_pool = None
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.checkpoint is not None:
            import pandas as pd

            if frame is None:
                mine: set[RowKey] = set()
                frame = pd.DataFrame()
            else:
                mine = {(self.sweep_id, str(k)) for k in frame["point_id"]}
                frame = frame.assign(sweep_space=self.sweep_space)
            self.checkpoint.close(frame, (r for k, r in self.stored.items() if k not in mine))
            self.checkpoint = None


def _column_value(space: Space, key: str, value: Any) -> Any:
    return str(value) if space.column_kind(key) == "mixed" else value


def as_space(space: Space | dict) -> Space:
    return space if isinstance(space, Space) else Space(space)


def sweep(hw: Hardware | str | PathLike,
          wl: Workload | str | PathLike | Sequence[Workload | str | PathLike],
          space: Space | dict, *, jobs: int | None = None, executor: Executor | None = None,
          scheduler: str | None = None, out: str | PathLike | None = None,
          progress: bool | None = None, retries: int = RETRIES,
          training: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Simulate every point of ``space`` (a ``Space`` or its dict) on ``hw`` for each workload
    in ``wl`` (one, or a list; each a Workload, a path or a zoo model, ``as_workload``); one
    row per (point, workload), points outermost.

    Columns: one per space key (named by its dotted path), ``workload``, the metrics
    (``pysim.sweep.METRICS``: latency_s, energy_j, edp, area_mm2, dram_bytes, utilization,
    macs, ...; float64), ``point_id`` (a hash of the point, the workload and the base hardware),
    ``error`` (None, or why the point is invalid: a ConfigError or WorkloadError message;
    its metrics are NaN) and ``sweep_id`` (8 hex digits naming this sweep: a hash of the space,
    the base hardware and the workloads; ``describe_sweep``). ``df.attrs["computed"]`` /
    ``["reused"]`` count the rows computed now and those taken from ``out``.

    ``jobs``: local worker processes (default 1: this process; -1: all cores). ``executor``:
    any ``concurrent.futures.Executor`` (e.g. Dask's ``client.get_executor()``).
    ``scheduler``: a Dask scheduler address to connect to. ``out``: a Parquet path to
    checkpoint into and resume from (docs/sweeps.md), which keeps the rows of other sweeps
    written to it, each with its ``sweep_id`` and space; one sweep at a time per path (a second
    is refused). ``progress``: a tqdm bar (default: when stderr is a terminal). ``retries``: how
    often a point whose local worker process died (killed, crashed) is run again alone before
    its row records the failure (default 2). ``training``: each row is one training step of
    its workload (``pysim.training.step`` with these keyword arguments, e.g. ``{"optimizer":
    "adam", "recipe": "int8"}``; ``{}`` for its defaults) instead of a forward pass; a zoo
    name then loads the model in its training form (a CNN's batch norms as ops), as ``step``
    does, and the options are part of the rows' ``point_id`` and the ``sweep_id``.

    Raises ConfigError for a space key that is not a parameter of ``hw``, ValueError for an
    empty space, a bad ``jobs`` or an unreachable scheduler, WorkloadError for a training
    option ``step`` refuses whatever the hardware: all before any point runs.
    """
    hw, wls = load_inputs(hw, wl, training is not None)
    space = as_space(space)
    space.check(hw)
    points = space.points()
    with Evaluator(hw, wls, space, jobs=jobs, executor=executor, scheduler=scheduler, out=out,
                   progress=progress, retries=retries, training=training) as ev:
        tasks = ev.tasks(points)
        df = ev.frame(ev.run(tasks))
        ev.close(df)
    return df


__all__ = ["Evaluator", "Task", "as_space", "connect", "describe_sweep", "load_inputs", "sweep"]
