"""``Result.tensors``: each tensor's DRAM bytes (read, written, compulsory) summed over the ops
that move it (pysim/mapping/tensor_traffic.py); the sums are the result's totals."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim import gpu, zoo
from pysim.mapping.tensor_traffic import split
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


@pytest.mark.parametrize(("hw", "workload"), [
    (CONFIGS / "tpu_v1.yaml", "resnet18"), (CONFIGS / "edge_npu.yaml", "bert_base"),
    (CONFIGS / "eyeriss.yaml", "resnet18"), (CONFIGS / "lowp_edge.yaml", "mobilenet_v2"),
    ("a100", "bert_base"), ("h100", "resnet50"),
])
def test_tensor_rows_sum_to_the_totals(hw, workload):
    target = gpu.preset(hw) if isinstance(hw, str) else hw
    res = pysim.simulate(target, zoo.load(workload))
    t = res.tensors
    assert t["dram_read_bytes"].sum() == res.dram_read_bytes
    assert t["dram_write_bytes"].sum() == res.dram_write_bytes
    assert t["compulsory_bytes"].sum() == res.compulsory_dram_bytes
    assert (t["non_compulsory_bytes"] >= 0).all(), t[t["non_compulsory_bytes"] < 0]
    assert t["non_compulsory_bytes"].is_monotonic_decreasing
    assert set(t["role"]) <= {"input", "weight", "activation"}


def test_one_gemm_moves_each_tensor_once():
    res = pysim.simulate(CONFIGS / "tpu_v1.yaml", zoo.load("gemm", m=256, n=256, k=256))
    rows = res.tensors.set_index("tensor")
    for name in ("gemm.weight", "a"):
        assert rows.loc[name, "dram_read_bytes"] == rows.loc[name, "bytes"] == \
            rows.loc[name, "compulsory_bytes"]
    out = rows.loc["gemm"]
    assert out["dram_write_bytes"] == out["compulsory_bytes"] == out["bytes"]
    assert (rows["non_compulsory_bytes"] == 0).all()


def test_partial_sum_spills_show_on_the_output_tensor():
    # a 2 KiB buffer: the K loop cannot keep C's partial sums, which go to DRAM and back
    hw = pysim.load_hardware(CONFIGS / "edge_npu.yaml").with_overrides(
        {"scratchpads.0.size_kib": 2.0, "mapper.objective": "traffic"})
    res = pysim.simulate(hw, zoo.load("gemm", m=512, n=512, k=2048))
    out = res.tensors.set_index("tensor").loc["gemm"]
    layer = res.layers.iloc[0]
    assert out["dram_read_bytes"] > 0  # partial sums read back
    assert out["non_compulsory_bytes"] == (out["dram_read_bytes"] + out["dram_write_bytes"]
                                           - out["bytes"])
    assert layer["dram_write_bytes"] == out["dram_write_bytes"]


def test_split_gives_whole_bytes_in_proportion():
    assert split(10, [("a", 1), ("b", 1), ("c", 2)]) == {"a": 3, "b": 2, "c": 5}
    assert sum(split(1001, [("a", 3), ("b", 7), ("c", 11)]).values()) == 1001
    assert split(5, [("a", 0), ("b", 0)]) == {"a": 3, "b": 2}
    assert split(0, [("a", 4)]) == {"a": 0}


def test_a_slice_of_a_graph_input_is_compulsory_for_the_part_it_reads() -> None:
    """A slice reads a quarter of x: that quarter is x's compulsory read (it was the whole
    tensor: 16 KiB compulsory against 4 KiB read, a negative non-compulsory share)."""
    wl = workload_from_dict({"name": "s", "inputs": [{"name": "x", "shape": [64, 256]}], "ops": [
        {"name": "sl", "type": "copy", "mode": "slice", "inputs": ["x"], "shapes": [[64, 256]],
         "out_shape": [16, 256]},
        {"name": "r", "type": "elementwise", "op": "relu", "inputs": ["sl"],
         "shape": [16, 256]}]})
    res = pysim.simulate(pysim.load_hardware(CONFIGS / "edge_npu.yaml"), wl)
    x = res.tensors.set_index("tensor").loc["x"]
    assert x["dram_read_bytes"] == x["compulsory_bytes"] == 16 * 256
    assert x["non_compulsory_bytes"] == 0
    assert res.dram_read_bytes + res.dram_write_bytes >= res.compulsory_dram_bytes


@pytest.mark.parametrize("config", ["edge_npu", "tpu_v1", "lowp_edge", "eyeriss"])
def test_every_zoo_model_moves_at_least_its_compulsory_bytes(config: str) -> None:
    hw = pysim.load_hardware(CONFIGS / f"{config}.yaml")
    for name in zoo.names():
        res = pysim.simulate(hw, zoo.load(name))
        assert res.dram_read_bytes + res.dram_write_bytes >= res.compulsory_dram_bytes, name
        short = res.tensors[res.tensors["non_compulsory_bytes"] < 0]
        assert short.empty, (name, short)
        for level, v in res.level_bytes.items():  # and per memory level
            assert v["non_compulsory"] >= 0, (name, level, v)
