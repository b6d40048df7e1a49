"""Runs fuzz cases in child processes and tallies them.

Core and API cases run in batches in a worker child (``python -m tests.fuzz.runner worker
TARGET SEED START END [MAX_WORK]``), which prints ``S i`` before case i and ``R i KIND DETAIL``
after it. The parent waits at most ``timeout`` seconds per case: no answer is a hang (the child
is killed), an end of output without an answer a crash (a signal or an exit); either way the
batch resumes at the next case in a fresh child. CLI cases are one subprocess each.

A failure is one of: ``crash``, ``hang``, ``wrong`` (an accepted call whose answer fails its
check, or an accepted config whose simulation is not finite) and ``unclear`` (any other
exception, an unclear message, a traceback, a CLI exit code other than 0 and 2)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Failure:
    target: str
    seed: int
    index: int
    what: str  # the call or case
    detail: str
    kind: str = "unclear"  # crash, hang, wrong, unclear (the module docstring)

    def reproducer(self) -> str:
        return (f"python -m tests.fuzz --target {self.target} --seed {self.seed} "
                f"--replay {self.index}")


FAILURE_KINDS = ("wrong", "unclear", "crash", "hang")


def failure_kind(detail: str) -> str:
    """Which failure a child's or the CLI classifier's failure detail is."""
    if detail.startswith(("wrong answer", "accepted, but")):
        return "wrong"
    if detail.startswith(("crash", "killed by signal")):
        return "crash"
    if detail.startswith(("hang", "no exit within")):
        return "hang"
    return "unclear"


@dataclass
class Tally:
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (target, kind)
    failures: list[Failure] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in
                                                       env.get("PYTHONPATH", "").split(os.pathsep)
                                                       if p])
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def describe_case(target: str, seed: int, index: int) -> str:
    if target == "core":
        from tests.fuzz.core_cases import make_call

        try:
            return make_call(seed, index).describe()
        except Exception as exc:  # noqa: BLE001 - a call that cannot even be drawn
            return f"(drawing the call raised {type(exc).__name__})"
    from tests.fuzz.api_cases import make_case

    return make_case(seed, index).describe()


def worker(target: str, seed: int, start: int, end: int, max_work: float | None = None) -> None:
    """The child's loop (see the module docstring)."""
    import warnings

    import numpy as np

    # A binding that silently drops the imaginary part of a complex array: a failure.
    warnings.simplefilter("error", np.exceptions.ComplexWarning)
    out = sys.stdout
    tmp = Path(tempfile.mkdtemp(prefix="pysim-fuzz-"))
    for i in range(start, end):
        out.write(f"S {i}\n")
        out.flush()
        if target == "core":
            from tests.fuzz.core_cases import run_index

            _, outcome = run_index(seed, i, max_work)
            kind, detail = outcome.kind, outcome.detail
        else:
            from tests.fuzz.api_cases import make_case, run_case

            result = run_case(make_case(seed, i), tmp)
            kind, detail = result.kind, result.detail
        out.write(f"R {i} {kind} {json.dumps(detail)}\n")
        out.flush()


def _reader(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _drain(stream: IO[str], chunks: list[str]) -> None:
    chunks.append(stream.read())


def run_batched(target: str, seed: int, calls: int, timeout: float, tally: Tally,
                batch: int = 5000, max_work: float | None = None) -> None:
    """Cases 0..calls-1 of ``target`` in worker children (the module docstring); core calls
    estimated to step more than ``max_work`` are skipped (tests/fuzz/core_cases.py)."""
    start_time = time.monotonic()
    next_i = 0
    while next_i < calls:
        end = min(calls, next_i + batch)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.runner", "worker", target, str(seed),
             str(next_i), str(end)] + ([repr(max_work)] if max_work is not None else []),
            cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert proc.stdout is not None and proc.stderr is not None
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        err_chunks: list[str] = []
        threading.Thread(target=_drain, args=(proc.stderr, err_chunks), daemon=True).start()
        current: int | None = None
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:  # a hang: no answer within the timeout
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                index = current if current is not None else next_i
                tally.counts[(target, "hang")] += 1
                tally.failures.append(Failure(target, seed, index,
                                              describe_case(target, seed, index),
                                              f"hang: no answer within {timeout:g} s", "hang"))
                next_i = index + 1
                break
            if line is None:  # the child ended
                code = proc.wait()
                if current is not None:  # it died inside a case: a crash
                    time.sleep(0.05)
                    err = "".join(err_chunks).strip().splitlines()
                    how = f"signal {-code}" if code < 0 else f"exit {code}"
                    tally.counts[(target, "crash")] += 1
                    tally.failures.append(Failure(
                        target, seed, current, describe_case(target, seed, current),
                        f"crash ({how}); stderr: {err[-1][:200] if err else ''}", "crash"))
                    next_i = current + 1
                elif code != 0:  # it failed outside any case (the harness itself)
                    raise RuntimeError(f"fuzz worker exited {code}: {''.join(err_chunks)[-2000:]}")
                else:
                    next_i = end
                break
            tag, _, rest = line.rstrip("\n").partition(" ")
            if tag == "S":
                current = int(rest)
            elif tag == "R":
                index_text, kind, detail = rest.split(" ", 2)
                if kind == "failure":
                    text = json.loads(detail)
                    kind = failure_kind(text)
                    tally.failures.append(Failure(target, seed, int(index_text),
                                                  describe_case(target, seed, int(index_text)),
                                                  text, kind))
                tally.counts[(target, kind)] += 1
                current = None
    tally.seconds[target] = tally.seconds.get(target, 0.0) + time.monotonic() - start_time


def run_cli(seed: int, calls: int, timeout: float, tally: Tally) -> None:
    from tests.fuzz.cli_cases import classify_cli, make_case

    start_time = time.monotonic()
    for i in range(calls):
        case = make_case(seed, i)
        kind, detail = run_cli_case(case, timeout, classify_cli)
        if kind == "failure":
            kind = failure_kind(detail)
            tally.failures.append(Failure("cli", seed, i, case.describe(), detail, kind))
        tally.counts[("cli", kind)] += 1
    tally.seconds["cli"] = tally.seconds.get("cli", 0.0) + time.monotonic() - start_time


def run_cli_case(case: object, timeout: float, classify: object) -> tuple[str, str]:
    from tests.fuzz.cli_cases import CliCase, classify_cli

    assert isinstance(case, CliCase)
    with tempfile.TemporaryDirectory(prefix="pysim-fuzz-cli-") as tmp:
        for name, text in case.files.items():
            Path(tmp, name).write_text(text, encoding="utf-8", errors="surrogateescape")
        argv = [a.replace("{dir}", tmp) for a in case.argv]
        proc = subprocess.Popen([sys.executable, "-m", "pysim.cli", *argv], cwd=tmp, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                errors="replace", start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            timed_out = True
        return classify_cli(proc.returncode, err, timed_out)


def replay(target: str, seed: int, index: int) -> str:
    """One case again, in this process (a crash here is the reproducer's point)."""
    if target == "core":
        from tests.fuzz.core_cases import make_call, run_call

        call = make_call(seed, index)
        print(call.describe(), flush=True)
        outcome = run_call(call)
        return f"{outcome.kind}: {outcome.detail}"
    if target == "api":
        from tests.fuzz.api_cases import make_case, run_case

        case = make_case(seed, index)
        print(case.describe(), flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            result = run_case(case, Path(tmp))
        return f"{result.kind}: {result.detail}"
    from tests.fuzz.cli_cases import classify_cli
    from tests.fuzz.cli_cases import make_case as make_cli

    case = make_cli(seed, index)
    print(case.describe(), flush=True)
    for name, text in case.files.items():
        print(f"--- {name}\n{text}")
    kind, detail = run_cli_case(case, 120.0, classify_cli)
    return f"{kind}: {detail}"


if __name__ == "__main__":
    if len(sys.argv) in (6, 7) and sys.argv[1] == "worker":
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
               float(sys.argv[6]) if len(sys.argv) == 7 else None)
    else:
        sys.exit("usage: python -m tests.fuzz.runner worker TARGET SEED START END [MAX_WORK]")
