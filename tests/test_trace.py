"""The Chrome/Perfetto trace of a run (Result.to_chrome_trace): the Trace Event Format's
required fields, named tracks, slices that nest, and figures that agree with Result.layers."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import pysim
from pysim.report import chrome_trace
from pysim.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent
EPS_US = 2e-6  # the writer rounds to the picosecond


@pytest.fixture(scope="module", params=["edge_npu", "a100"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    hw = (pysim.gpu.preset("a100") if request.param == "a100"
          else ROOT / "configs" / f"{request.param}.yaml")
    res = simulate(hw, pysim.zoo.load("resnet18"), trace=True)
    path = tmp_path_factory.mktemp("trace") / "run.json"
    res.to_chrome_trace(path)
    return res, json.loads(path.read_text())


def _slices(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in trace["traceEvents"] if e["ph"] == "X"]


def test_every_event_has_the_required_fields(run) -> None:
    _, trace = run
    events = trace["traceEvents"]
    assert events
    for e in events:
        assert {"ph", "ts", "pid", "tid", "name"} <= e.keys(), e
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
        if e["ph"] == "X":
            assert e["dur"] >= 0, e
    assert {e["ph"] for e in events} == {"M", "X"}


def test_every_track_is_named(run) -> None:
    res, trace = run
    names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {e["tid"] for e in _slices(trace)} == set(names)
    assert len(set(names.values())) == len(names)
    queues = set(res.timeline.queues)
    assert queues <= set(names.values())
    if res.dram_bytes and res.layers["dram_row_hit_rate"].notna().any():  # DMA-driven
        assert "DRAM bus" in names.values()
        for q in queues:
            assert f"{q} DMA read" in names.values() or f"{q} DMA write" in names.values()
    process = [e for e in trace["traceEvents"] if e["name"] == "process_name"]
    assert process and res.workload in process[0]["args"]["name"]


def test_slices_nest_on_every_track(run) -> None:
    """Per track, sorted by start (ties keep file order, parents first), every slice lies
    inside the enclosing one or starts after it ends; steps and stalls lie inside an op."""
    _, trace = run
    by_tid: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in _slices(trace):
        by_tid[e["tid"]].append(e)
    nested = 0
    for events in by_tid.values():
        stack: list[dict[str, Any]] = []
        for e in sorted(events, key=lambda e: e["ts"]):
            end = e["ts"] + e["dur"]
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"] + EPS_US and not (
                    e["dur"] == 0 and e["ts"] == stack[-1]["ts"]):
                stack.pop()
            if stack:
                parent = stack[-1]
                assert end <= parent["ts"] + parent["dur"] + EPS_US, (e, parent)
                nested += 1
            if e["cat"] in ("compute", "stall"):
                assert stack and stack[-1]["cat"] == "op", e
            stack.append(e)
    assert nested > 0


def test_the_trace_agrees_with_the_result(run) -> None:
    """Op slices start at the op's start cycle; its compute steps add up to its compute
    cycles; the DRAM bus moves every DMA byte; stalls are the unit's idle cycles in an op."""
    res, trace = run
    us_per_cycle = 1e6 / res.clock_hz
    slices = _slices(trace)
    ops = [e for e in slices if e["cat"] == "op"]
    assert [e["name"] for e in ops] == list(res.layers["op"]) or sorted(
        e["name"] for e in ops) == sorted(res.layers["op"])
    layers = res.layers.set_index("op")
    for e in ops:
        row = layers.loc[e["name"]]
        assert e["ts"] == pytest.approx(row["start_cycle"] * us_per_cycle, abs=EPS_US)
        assert e["args"]["energy_j"] == pytest.approx(row["energy_j"])
    steps = defaultdict(float)
    stalls = defaultdict(float)
    stack: list[dict[str, Any]] = []
    for e in sorted((e for e in slices if e["cat"] in ("op", "compute", "stall")),
                    key=lambda e: (e["tid"], e["ts"])):
        if e["cat"] == "op":
            stack = [e]
        elif e["cat"] == "compute":
            steps[stack[0]["name"]] += e["args"]["cycles"]
        else:
            stalls[stack[0]["name"]] += e["args"]["cycles"]
    for e in ops:
        row = layers.loc[e["name"]]
        assert steps[e["name"]] == pytest.approx(row["compute_cycles"], rel=1e-9, abs=1e-6)
        busy_cycles = e["dur"] / us_per_cycle
        assert steps[e["name"]] + stalls[e["name"]] == pytest.approx(busy_cycles, rel=1e-6,
                                                                      abs=1e-3)
    bus = [e for e in slices if e["cat"] == "dram"]
    moved = sum(e["args"]["bytes"] for e in bus)
    dma = res.layers["dram_row_hit_rate"].notna()  # ops whose bytes move by DMA, not in-kernel
    expected = float((res.layers.loc[dma, "dram_read_bytes"]
                      + res.layers.loc[dma, "dram_write_bytes"]).sum())
    assert moved == pytest.approx(expected, rel=1e-9)


def test_the_accelerator_trace_shows_stalls_and_dma() -> None:
    res = simulate(ROOT / "configs" / "edge_npu.yaml", pysim.zoo.load("resnet18"), trace=True)
    trace = chrome_trace(res)
    cats = {e.get("cat") for e in trace["traceEvents"]}
    assert {"op", "compute", "stall", "dma_read", "dma_write", "dram"} <= cats
    stalled = [e for e in trace["traceEvents"] if e.get("cat") == "stall"]
    assert all(e["args"]["cycles"] > 0 and e["args"]["waiting_for"] for e in stalled)


def test_trace_is_deterministic_and_does_not_change_the_figures(tmp_path: Path) -> None:
    hw = ROOT / "configs" / "edge_npu.yaml"
    a = simulate(hw, pysim.zoo.load("resnet18"), trace=True)
    b = simulate(hw, pysim.zoo.load("resnet18"), trace=True)
    plain = simulate(hw, pysim.zoo.load("resnet18"))
    a.to_chrome_trace(tmp_path / "a.json")
    b.to_chrome_trace(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert plain.timeline is None
    assert a.latency_cycles == plain.latency_cycles and a.energy_j == plain.energy_j
    cols = ["start_cycle", "end_cycle", "stall_cycles", "sim_events"]
    assert a.layers[cols].equals(plain.layers[cols])


def test_a_result_without_a_timeline_says_how_to_get_one(tmp_path: Path) -> None:
    res = simulate(ROOT / "configs" / "edge_npu.yaml", ROOT / "workloads" / "tiny_cnn.yaml")
    with pytest.raises(ValueError, match="trace=True"):
        res.to_chrome_trace(tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()
