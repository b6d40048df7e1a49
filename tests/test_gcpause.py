"""pysim/gcpause.py: ``simulate`` and ``training.step`` run with Python's cyclic garbage
collector paused (a run makes almost no reference cycles; the collector's full passes over the
memo caches cost a sweep 15-25 %: benchmarks/bench_gc.py), and leave it as they found it,
raising or not."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import pysim
from pysim import training
from pysim.errors import WorkloadError
from pysim.gcpause import gc_paused

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_a_run_pauses_the_collector_and_turns_it_back_on(
        collector_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    sim = importlib.import_module("pysim.simulate")
    seen: list[bool] = []
    real = sim.map_workload

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "map_workload", spy)
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("gemm", m=32, n=32, k=32)
    pysim.simulate(hw, wl)
    training.step(hw, wl, "sgd", "int8")
    assert seen == [False, False] and gc.isenabled()


def test_the_collector_is_back_on_after_a_run_that_raises(collector_on: None) -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    with pytest.raises(WorkloadError):
        training.step(hw, pysim.zoo.load("gemm", m=32, n=32, k=32), "no_such_optimizer")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off(collector_on: None) -> None:
    gc.disable()
    pysim.simulate(pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml"),
                   pysim.zoo.load("gemm", m=32, n=32, k=32))
    assert not gc.isenabled()
    gc.enable()


def test_nested_pauses_restore_the_outer_state(collector_on: None) -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block turned it off: it stays off
    assert gc.isenabled()


def test_a_run_leaves_almost_no_cyclic_garbage(collector_on: None) -> None:
    """Why pausing is safe: what a run allocates, reference counting frees; a handful of
    cyclic objects wait for the next collection (8 on these steps, 2026-12-05)."""
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    training.step(hw, "bert_base", "adam", "int8")
    gc.collect()
    training.step(hw, "bert_base", "adam", "int8")
    assert gc.collect() < 200
