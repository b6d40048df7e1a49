"""Weights in host memory (``host:`` / ``host.offload``, pysim/config/host.py): placement, the
copies on the engine's host port, their energy, and bad input."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.config.host import LINKS, PINNED_EFFICIENCY, HostLink
from pysim.engine import LinkPlan, StepPlan, run_with_link
from pysim.errors import ConfigError, WorkloadError
from pysim.mapping.capacity import GIB, plan_offload
from pysim.serving.model import model


@cache
def decode() -> pysim.Workload:
    """One decode step of TinyLlama-1.1B (2.1 GB of fp16 weights) over a 64-row cache."""
    return model("tinyllama_1b").forward_workload(2, 1, 64)


def t4(**host: object) -> pysim.Hardware:
    """The T4 preset with 1 GiB of DRAM (about half of the weights fit) and ``host``."""
    hw = pysim.gpu.preset("t4").hardware.with_overrides({"dram.capacity_gib": 1})
    return hw.with_overrides({f"host.{k}": v for k, v in host.items()}) if host else hw


def link(hw: pysim.Hardware) -> HostLink:
    assert hw.host is not None
    return hw.host


def test_gpu_presets_name_their_host_link() -> None:
    links = {name: p.hardware.host.link if p.hardware.host else None
             for name, p in pysim.gpu.PRESETS.items()}
    assert links["t4"] == links["v100"] == "pcie3_x16"
    assert links["a100"] == links["rtx4090"] == "pcie4_x16"
    assert links["h100"] == links["h200"] == "pcie5_x16"
    assert links["gh200"] == "nvlink_c2c"
    assert links["jetson_agx_orin"] is None  # its GPU shares the CPU's memory
    # the superchip's Grace memory: 480 GB of LPDDR5X at the measured 375 of 450 GB/s
    gh = link(pysim.gpu.preset("gh200").hardware)
    assert (gh.capacity_gib, gh.memory, gh.bandwidth_gb_per_s) == (480, "lpddr4_3200", 375.0)
    host = link(pysim.gpu.preset("t4").hardware)
    # the default achieved rate: 0.88 of PCIe 3.0 x16's 15.75 GB/s, FlexGen's T4 fit
    assert host.bandwidth_gb_per_s == pytest.approx(8 * 16 * 128 / 130 / 8 * 0.88, rel=1e-6)
    assert host.bytes_per_s / 2**30 == pytest.approx(12.89, abs=0.03)
    assert LINKS["nvlink_c2c"].gb_per_s == 450 and PINNED_EFFICIENCY == 0.88


def test_overflow_without_offload_names_the_option() -> None:
    with pytest.raises(WorkloadError, match=r"needs .* GiB of DRAM .* it has 1 GiB "
                                             r"\(dram\.capacity_gib; or let weights run from "
                                             r"host memory: host\.offload"):
        pysim.simulate(t4(), decode())


def test_a_workload_that_fits_copies_nothing() -> None:
    hw = pysim.gpu.preset("t4").hardware
    base = pysim.simulate(hw, decode())
    for mode in ("on_demand", "prefetch"):
        res = pysim.simulate(hw, decode(), offload=mode)
        assert res.host_read_bytes == 0 and res.host_transfers == ()
        assert res.latency_cycles == base.latency_cycles
        assert res.energy_j == pytest.approx(base.energy_j, rel=1e-12)


def test_weights_stay_on_the_device_in_op_order_until_it_is_full() -> None:
    wl = decode()
    hw = t4(offload="on_demand")
    plan = plan_offload(hw, wl)
    fp = wl.footprint
    names = list(fp.weights)
    first = min(names.index(n) for n in plan.host_weights)
    # a prefix stays, the rest is offloaded
    assert set(names[first:]) == plan.host_weights
    assert plan.device_weight_bytes == sum(fp.weights[n] for n in names[:first])
    # what stays fits beside the graph inputs, activations and one op's staging
    assert (plan.device_weight_bytes + fp.inputs + fp.live + plan.staging_bytes
            <= 1 * GIB)
    assert plan.device_weight_bytes + fp.weights[names[first]] + fp.inputs + fp.live \
        + plan.staging_bytes > 1 * GIB
    # prefetching sets aside twice the staging
    assert plan_offload(t4(offload="prefetch"), wl).staging_bytes == 2 * plan.staging_bytes
    # device_weights_gib: 0 offloads every weight (ZeRO-Inference)
    every = plan_offload(t4(offload="on_demand", device_weights_gib=0), wl)
    assert every.host_weights == set(names) and every.device_weight_bytes == 0
    assert sum(every.fetch_bytes) == sum(fp.weights.values())


def test_on_demand_adds_each_copy_to_the_chain_of_kernels() -> None:
    # a GPU runs its kernels one after another: each copy waits for the kernel before it and
    # its kernel waits for the copy, so the latency is the kernels' plus every copy's
    hw = t4(offload="on_demand", device_weights_gib=0)
    res = pysim.simulate(hw, decode())
    fits = pysim.simulate(pysim.gpu.preset("t4").hardware, decode())
    copies = sum(link(hw).copy_seconds(t.nbytes) for t in res.host_transfers)
    assert len(res.host_transfers) == sum(1 for b in res.layers["host_read_bytes"] if b)
    assert res.latency_s == pytest.approx(fits.latency_s + copies, abs=2 / hw.clock_hz)
    for t, (_, row) in zip(res.host_transfers,
                           res.layers[res.layers["host_read_bytes"] > 0].iterrows(), strict=True):
        assert t.name == f"{row['op']}.weights" and t.nbytes == row["host_read_bytes"]
        assert t.end_cycle <= row["start_cycle"] + 1e-6  # the op runs once its copy is in


def test_prefetch_overlaps_copies_with_kernels() -> None:
    hw = t4(offload="prefetch", device_weights_gib=0)
    res = pysim.simulate(hw, decode())
    demand = pysim.simulate(t4(offload="on_demand", device_weights_gib=0), decode())
    fits = pysim.simulate(pysim.gpu.preset("t4").hardware, decode())
    link = sum(t.end_cycle - t.start_cycle for t in res.host_transfers)
    assert res.host_read_bytes == demand.host_read_bytes
    assert max(fits.latency_cycles, link) <= res.latency_cycles < demand.latency_cycles
    # copies hold the link one at a time, in op order
    ends = [t.end_cycle for t in res.host_transfers]
    starts = [t.start_cycle for t in res.host_transfers]
    assert all(s >= e - 1e-6 for s, e in zip(starts[1:], ends, strict=False))


def test_copy_energy_is_host_read_link_and_device_write() -> None:
    hw = t4(offload="prefetch")
    res = pysim.simulate(hw, decode())
    per_byte = 8 * (17.5 + 6.5 + hw.dram.write_pj_per_bit)  # DDR4, PCIe, the T4's DRAM
    assert link(hw).pj_per_byte(hw.dram.write_pj_per_bit) == pytest.approx(per_byte)
    assert res.energy_breakdown_j["host"] == pytest.approx(res.host_read_bytes * per_byte
                                                           * 1e-12, rel=1e-12)
    assert res.layers["host_j"].sum() == pytest.approx(res.energy_breakdown_j["host"])
    assert res.energy_j == pytest.approx(sum(res.energy_breakdown_j.values()), rel=1e-12)


def test_an_accelerator_offloads_through_the_same_path() -> None:
    tpu = pysim.load_hardware("configs/tpu_v1.yaml")
    wl = pysim.zoo.load("llama2_7b", phase="decode", tokens=1, context_len=128)
    small = tpu.with_overrides({"dram.capacity_gib": 4})
    with pytest.raises(WorkloadError, match="host.offload"):
        pysim.simulate(small, wl)
    hw = small.with_overrides({"host": {"link": "pcie3_x16", "offload": "on_demand"}})
    res = pysim.simulate(hw, wl)
    fits = pysim.simulate(tpu, wl)
    assert res.host_read_bytes > 0
    assert res.latency_s > fits.latency_s + res.host_read_bytes / link(hw).bytes_per_s * 0.99
    # no DRAM read of an op starts before its weights are in
    for t, (_, row) in zip(res.host_transfers,
                           res.layers[res.layers["host_read_bytes"] > 0].iterrows(), strict=True):
        assert t.end_cycle <= row["start_cycle"] + 1e-6


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(["on_demand", "prefetch"]), st.floats(1, 100), st.floats(1.01, 8),
       st.floats(0.7, 1.5), st.floats(1.0, 3.0))
def test_more_host_bandwidth_or_device_memory_is_never_slower(mode, gbps, faster, gib,
                                                             more) -> None:
    def latency(bandwidth: float, capacity: float) -> int:
        hw = t4(offload=mode, bandwidth_gb_per_s=bandwidth).with_overrides(
            {"dram.capacity_gib": capacity})
        return pysim.simulate(hw, decode()).latency_cycles

    base = latency(gbps, gib)
    assert latency(gbps * faster, gib) <= base
    assert latency(gbps, gib * more) <= base


def test_the_host_port_and_the_device_link_run_apart() -> None:
    plans = [StepPlan("a", "u", (), 1, 100.0, 0, 0), StepPlan("b", "u", (0,), 1, 100.0, 0, 0)]
    links = [LinkPlan("allreduce", (), (), 50.0), LinkPlan("copy", (), (1,), 150.0, "host"),
             LinkPlan("copy2", (), (), 10.0, "host")]
    timings, transfers = run_with_link(plans, links, 1.0, 0.0)
    assert [t.start_cycle for t in transfers] == [0.0, 0.0, 150.0]  # one queue per port
    assert timings[1].start_cycle == 150.0  # b waits for its copy


def test_forward_workload_is_the_whole_model() -> None:
    spec = model("opt_30b")
    wl = spec.forward_workload(2, 1, 100)
    weights = wl.footprint.weight_bytes
    assert weights == pytest.approx(spec.weight_bytes, rel=1e-3)  # norms' betas aside
    dense = spec.layers * (4 * spec.hidden ** 2 + 2 * spec.hidden * spec.ffn)
    attention = spec.layers * 2 * spec.heads * spec.head_dim * 100
    assert wl.macs == 2 * (dense + attention) + 2 * spec.hidden * spec.vocab
    prefill = spec.forward_workload(1, 16)
    assert not any(name.endswith("_cache") for name in prefill.tensors)
    with pytest.raises(WorkloadError, match="q_len <= kv_len"):
        spec.forward_workload(1, 8, 4)
    with pytest.raises(WorkloadError, match="batch must be an int >= 1"):
        spec.forward_workload(0, 1)
    with pytest.raises(WorkloadError, match="experts"):
        model("mixtral_8x7b").forward_workload(1, 1, 8)


@pytest.mark.parametrize(("change", "error", "match"), [
    ({"host.link": "pcie9_x4"}, ConfigError,
     r"host\.link must be one of 'pcie3_x16', 'pcie4_x16', 'pcie5_x16' or 'nvlink_c2c', got "
     r"'pcie9_x4'"),
    ({"host.bandwidth_gb_per_s": -3}, ConfigError, r"host\.bandwidth_gb_per_s"),
    ({"host.bandwidth_gb_per_s": float("nan")}, ConfigError, r"host\.bandwidth_gb_per_s"),
    ({"host.offload": "sometimes"}, ConfigError, r"host\.offload must be one of"),
    ({"host.memory": "sram"}, ConfigError, r"host\.memory .*must be a DRAM preset"),
    ({"host.device_weights_gib": -1}, ConfigError, r"host\.device_weights_gib"),
])
def test_bad_host_fields_are_one_line_errors(change, error, match) -> None:
    with pytest.raises(error, match=match) as info:
        t4().with_overrides(change)
    assert "\n" not in str(info.value)


def test_bad_offload_requests_name_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match=r"offload must be one of \['none', 'on_demand', "
                                          r"'prefetch'\], got 'eager'"):
        pysim.simulate(t4(), decode(), offload="eager")
    orin = pysim.gpu.preset("jetson_agx_orin").hardware
    with pytest.raises(ConfigError, match=r"no link to host memory; add one \(host: "):
        pysim.simulate(orin, decode(), offload="prefetch")
    with pytest.raises(ConfigError, match=r"this hardware has no host; add a 'host' section"):
        orin.with_overrides({"host.offload": "prefetch"})
    # the host memory holds the offloaded weights, or it is an error naming both sizes
    with pytest.raises(WorkloadError, match=r"GiB of weights offloaded from NVIDIA T4 .* do "
                                            r"not fit its host memory of 0\.01 GiB "
                                            r"\(host\.capacity_gib\)"):
        pysim.simulate(t4(offload="on_demand", capacity_gib=0.01), decode())
    # the device must still hold the graph inputs, activations and staging
    tiny = t4(offload="prefetch").with_overrides({"dram.capacity_gib": 0.1})
    with pytest.raises(WorkloadError, match=r"does not fit NVIDIA T4 .* even with its "
                                            r"weights in host memory: .* prefetch staging"):
        pysim.simulate(tiny, decode())


def test_offload_anchors_stay_where_docs_validation_puts_them() -> None:
    # benchmarks/validate_offload.py: OPT-30B on a T4, FlexGen's Table 2 (docs/validation.md)
    import runpy
    from pathlib import Path

    bench = runpy.run_path(str(Path(__file__).resolve().parent.parent / "benchmarks"
                               / "validate_offload.py"), run_name="validate_offload")
    ratios = [bench["run"](c)["tokens_per_s"] / c.published_tokens_per_s
              for c in bench["CASES"]]
    # Accelerate and ZeRO-Inference on a T4 (FlexGen's Table 2); ZeRO-Inference with 4-bit
    # weights on an RTX A6000, OPT-30B and LLaMA-2-70B (its README)
    assert ratios == pytest.approx([2.64, 1.53, 1.49, 1.48], abs=0.02)
    # serving: LLaMA-2-13B on the RTX 4090 with 5 GiB in host memory, over PCIe 4.0 and 3.0
    assert bench["serving_decode"]()["tokens_per_s"] / 2.4 == pytest.approx(1.86, abs=0.02)
    slow = bench["serving_decode"]("pcie3_x16")
    assert slow["tokens_per_s"] / 2.4 == pytest.approx(1.0, abs=0.02)
    assert slow["offloaded_gib"] == pytest.approx(5.0, rel=1e-9)
    # every weight crosses the link once per pass: 59.9 GB of OPT-30B in fp16
    r = bench["run"](bench["CASES"][1])  # ZeRO-Inference, fp16 OPT-30B on the T4
    assert r["host_bytes"] == pytest.approx(59.9e9, rel=2e-3)
    assert r["decode_step_s"] == pytest.approx(r["link_s"], rel=0.01)  # prefetch: link-bound


def test_the_trace_shows_the_copies_on_a_host_link_track(tmp_path) -> None:
    import json

    res = pysim.simulate(t4(offload="prefetch"), decode(), trace=True)
    path = tmp_path / "offload.json"
    res.to_chrome_trace(path)
    events = json.loads(path.read_text())["traceEvents"]
    tid = next(e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"
               and e["args"]["name"] == "host link")
    copies = [e for e in events if e["ph"] == "X" and e["tid"] == tid]
    assert [e["name"] for e in copies] == [t.name for t in res.host_transfers]
    assert sum(e["args"]["bytes"] for e in copies) == res.host_read_bytes


def test_serving_swaps_over_the_hardwares_host_link() -> None:
    from pysim.serving.simulator import SWAP_GB_PER_S, host_gb_per_s

    a100 = pysim.gpu.preset("a100")
    assert host_gb_per_s(a100) == pytest.approx(31.5 * PINNED_EFFICIENCY, rel=1e-3)
    assert host_gb_per_s(pysim.gpu.preset("h100")) == pytest.approx(2 * host_gb_per_s(a100))
    assert host_gb_per_s(pysim.load_hardware("configs/tpu_v1.yaml")) == SWAP_GB_PER_S


def test_nvlink_c2c_streams_weights_far_faster_than_pcie() -> None:
    # LLaMA-2-7B fp16 decode with every weight in host memory: Grace Hopper's NVLink-C2C
    # against the H100 SXM's PCIe 5.0 x16 (375 against 55.4 GB/s achieved)
    wl = pysim.zoo.load("llama2_7b", phase="decode", precision="fp16", tokens=1)
    lat = {}
    for name in ("gh200", "h100"):
        hw = pysim.gpu.preset(name).hardware.with_overrides(
            {"host.offload": "prefetch", "host.device_weights_gib": 0})
        res = pysim.simulate(hw, wl)
        lat[name] = res.latency_s
        assert res.latency_s >= res.host_read_bytes / link(hw).bytes_per_s
    assert lat["h100"] / lat["gh200"] == pytest.approx(375 / 55.4, rel=0.1)
