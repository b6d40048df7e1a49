"""Data-parallel training (pysim.training.step(..., data_parallel=N)): one device is the
single-device step exactly; the ring all-reduce's bytes; overlap bounds; more link bandwidth
never slower; one bucket overlaps nothing; a tiny model on a slow link is comm-bound; bad
input names the field."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import training
from pysim.interconnect import Collective, Link
from pysim.workload import Elementwise, Gemm, Workload
from tests.test_training_bad_input import one_line

A100 = pysim.gpu.preset("a100")
NPU = pysim.load_hardware("configs/edge_npu.yaml")  # states no interconnect


def mlp(m: int = 4, k: int = 8, h: int = 16, n: int = 2) -> Workload:
    return Workload("mlp", [
        Gemm(name="fc1", inputs=("x",), m=m, k=k, n=h, bias=True),
        Elementwise(name="relu", op="relu", inputs=("fc1",), shape=(m, h)),
        Gemm(name="fc2", inputs=("relu",), m=m, k=h, n=n),
    ], [{"name": "x", "shape": (m, k), "bits": 8}])


def linked(hw, gb_per_s: float, latency_us: float = 2.0):
    """``hw`` (a Hardware) with an interconnect of this bandwidth and ring-step latency."""
    return hw.with_overrides({"interconnect": {"bandwidth_gb_per_s": gb_per_s,
                                               "latency_us": latency_us}})


NPU_LINKED = linked(NPU, 10.0)
CASES = [(A100, "resnet18", "mixed_bf16"), (A100, mlp(), "mixed_bf16"),
         (NPU_LINKED, mlp(), "int8")]


# -- one device is today's step ---------------------------------------------------------------

@pytest.mark.parametrize("hw,wl,recipe", CASES[:2] + [(NPU, mlp(), "int8")])
def test_one_device_is_the_single_device_step_exactly(hw, wl, recipe):
    base = training.step(hw, wl, "momentum", recipe)
    one = training.step(hw, wl, "momentum", recipe, data_parallel=1, bucket_mib=1.0)
    assert one.data_parallel is None and one.result.collectives == ()
    assert one.summary() == base.summary()
    assert one.memory == base.memory and one.memory.comm_buffers == 0
    assert one.result.latency_cycles == base.result.latency_cycles
    assert one.result.energy_breakdown_j == base.result.energy_breakdown_j
    cols = ["op", "start_cycle", "end_cycle", "energy_j"]
    assert one.result.layers[cols].equals(base.result.layers[cols])


# -- bytes and memory ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 8, 64])
def test_comm_bytes_are_the_ring_allreduce_of_the_gradients(n):
    s = training.step(A100, "resnet18", "sgd", "mixed_fp16", data_parallel=n)
    d = s.data_parallel
    assert d.grad_bytes == s.memory.weight_grads  # every gradient, each in its format, once
    assert d.comm_bytes_per_device == pytest.approx(2 * (n - 1) / n * s.memory.weight_grads)
    link = d.link
    assert d.comm_s == pytest.approx(sum(link.allreduce_s(b.nbytes, n) for b in d.buckets))


def test_memory_is_unchanged_but_for_the_buckets():
    one = training.step(A100, "resnet18")
    many = training.step(A100, "resnet18", data_parallel=8)
    assert many.memory.comm_buffers == many.data_parallel.grad_bytes > 0
    assert many.memory.peak - one.memory.peak == many.memory.comm_buffers
    assert "comm buffers" in many.memory.describe()
    assert "comm buffers" not in one.memory.describe()


def test_buckets_follow_ddp_reverse_order_and_size():
    s = training.step(A100, "resnet18", data_parallel=4, bucket_mib=4)
    d = s.data_parallel
    order = [layer for b in d.buckets for layer in b.layers]
    params = [layer for layer in s.graph.params if layer in order]
    assert order == params[::-1]  # the last layer's gradient is bucketed first
    for b in d.buckets[:-1]:  # each closed once it reached the cap, not before
        assert b.nbytes >= 4 * 2**20
    assert len(d.buckets) >= 2
    # launched in order, each on the link after it was ready and after the one before
    t = d.timings
    for a, b in zip(t, t[1:], strict=False):
        assert b.start_cycle >= a.end_cycle
    for c in t:
        assert c.start_cycle >= c.ready_cycle


# -- overlap ------------------------------------------------------------------------------------

@pytest.mark.parametrize("hw,wl,recipe", CASES)
@pytest.mark.parametrize("n", [2, 8])
def test_exposed_comm_and_step_time_bounds(hw, wl, recipe, n):
    compute = training.step(hw, wl, "adam", recipe).latency_s
    s = training.step(hw, wl, "adam", recipe, data_parallel=n)
    d = s.data_parallel
    eps = 1e-9 * s.latency_s + 2 / s.result.clock_hz  # the latency is ceiled to a cycle
    assert 0 <= d.exposed_comm_s <= d.comm_s + eps
    assert s.latency_s >= compute - eps
    assert s.latency_s >= d.comm_s - eps
    assert s.latency_s <= compute + d.comm_s + eps  # overlap never costs more than the sum


def test_the_allreduce_overlaps_the_backward_pass():
    compute = training.step(A100, "resnet18").latency_s
    s = training.step(A100, "resnet18", data_parallel=8)
    d = s.data_parallel
    assert len(d.buckets) > 1 and d.exposed_comm_s < 0.5 * d.comm_s
    assert s.latency_s < compute + 0.5 * d.comm_s
    # on a GPU's single stream the step grows by exactly the exposed part
    assert s.latency_s - compute == pytest.approx(d.exposed_comm_s, rel=1e-6, abs=2e-9)


def test_one_bucket_for_the_whole_model_overlaps_nothing():
    compute = training.step(A100, "resnet18").latency_s
    s = training.step(A100, "resnet18", data_parallel=8, bucket_mib=1e6)
    d = s.data_parallel
    assert len(d.buckets) == 1
    assert d.exposed_comm_s == pytest.approx(d.comm_s, rel=1e-9)
    assert d.comm_s == pytest.approx(d.link.allreduce_s(s.memory.weight_grads, 8))
    assert s.latency_s == pytest.approx(compute + d.comm_s, rel=1e-6, abs=2e-9)


@pytest.mark.parametrize("hw,recipe", [(A100, "mixed_bf16"), (NPU, "int8")])
def test_tiny_model_on_a_slow_link_is_comm_bound(hw, recipe):
    hw = linked(hw.hardware if hasattr(hw, "hardware") else hw, 0.01, 50.0)
    compute = training.step(hw, mlp(), "sgd", recipe).latency_s
    s = training.step(hw, mlp(), "sgd", recipe, data_parallel=8)
    d = s.data_parallel
    assert d.comm_s > 10 * compute
    assert d.exposed_comm_s >= 0.9 * d.comm_s
    assert s.latency_s == pytest.approx(compute + d.exposed_comm_s, rel=0.05)


@settings(max_examples=15, deadline=None)
@given(st.floats(0.01, 1000.0), st.floats(1.0, 100.0), st.floats(0.0, 20.0),
       st.sampled_from([2, 3, 8]), st.sampled_from([1e-4, 1e-3, 25.0]))
def test_more_link_bandwidth_is_never_slower(gb_per_s, factor, latency_us, n, bucket_mib):
    for hw, recipe in ((A100.hardware, "mixed_bf16"), (NPU, "int8")):
        slow, fast = (linked(hw, gb_per_s, latency_us), linked(hw, gb_per_s * factor,
                                                               latency_us))
        t = [training.step(h, mlp(8, 32, 64, 8), "adam", recipe, data_parallel=n,
                           bucket_mib=bucket_mib, input_grads=True) for h in (slow, fast)]
        assert t[1].latency_s <= t[0].latency_s
        assert t[1].data_parallel.exposed_comm_s <= t[0].data_parallel.exposed_comm_s + 1e-12


def test_run_passes_data_parallel_to_each_step():
    rep = training.run(A100, mlp(), 2, 10, data_parallel=4)
    assert all(s.data_parallel is not None and s.data_parallel.devices == 4
               for s in rep.steps)


# -- the shared link model ----------------------------------------------------------------------

def test_serving_and_training_share_one_link_model():
    from pysim.serving import parallel

    assert parallel.Link is Link
    link = Link(300e9, 1.9e-6)
    assert link.allreduce_s(1e8, 8) == pytest.approx(2 * 7 / 8 * 1e8 / 300e9 + 14 * 1.9e-6)


def test_a_collective_naming_an_unknown_op_or_waiting_on_itself_is_refused():
    wl = mlp()
    bad = Collective("c", ("nope",), (), 1e-6)
    with pytest.raises(pysim.WorkloadError, match="nope"):
        pysim.simulate(A100, wl, collectives=[bad])
    with pytest.raises(pysim.WorkloadError, match="seconds"):
        pysim.simulate(A100, wl, collectives=[Collective("c", ("fc1",), (), math.nan)])
    loop = Collective("c", ("fc2",), ("fc1",), 1e-6)  # fc2 follows fc1, which waits for it
    with pytest.raises(ValueError, match="never ran"):
        pysim.simulate(A100, wl, collectives=[loop])


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, -1, 2.5, True, "4", 65537, None])
def test_bad_data_parallel_names_the_field(value):
    one_line(lambda: training.step(A100, mlp(), data_parallel=value), "data_parallel",
             repr(value), "1..65536")


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, "25", True])
def test_bad_bucket_size_names_the_field(value):
    one_line(lambda: training.step(A100, mlp(), data_parallel=2, bucket_mib=value),
             "bucket_mib", repr(value), "> 0")


def test_hardware_without_interconnect_is_refused_above_one_device():
    one_line(lambda: training.step(NPU, mlp(), recipe="int8", data_parallel=2),
             "data_parallel 2", "interconnect", "edge_npu")
    one_line(lambda: training.step("configs/edge_npu.yaml", mlp(), recipe="int8",
                                   data_parallel=2), "interconnect")
    assert training.step(NPU, mlp(), recipe="int8", data_parallel=1).data_parallel is None


def test_cli_train_data_parallel(capsys):
    from pysim.cli import main

    assert main(["train", "gpu:a100", "gemm", "--data-parallel", "4"]) == 0
    out = capsys.readouterr().out
    assert "exposed_comm_s" in out and "comm_bytes_per_device" in out
    assert main(["train", "configs/edge_npu.yaml", "gemm", "--data-parallel", "2"]) == 2
    assert "interconnect" in capsys.readouterr().err
