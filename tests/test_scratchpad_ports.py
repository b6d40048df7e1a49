"""Scratchpad ports: read, write and read-write ports per bank, and the cycles an op's reads
and writes at a level take through them (``Scratchpad.port_cycles``, the planner's port
stalls, the tiling search's bound)."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.config.memory import Scratchpad
from pysim.errors import ConfigError
from pysim.mapping.bank_conflicts import fold_fetch_stalls

ROOT = Path(__file__).resolve().parent.parent


def spad(**ports: int) -> Scratchpad:
    return Scratchpad(name="s", size_kib=64, banks=4, word_bits=64, holds=("input",), **ports)


def test_port_cycles_put_reads_and_writes_on_their_ports() -> None:
    # 4 banks of 64-bit words: 4 words a cycle per port kind
    rw = spad()  # one read-write port: reads and writes share it
    assert rw.port_cycles(64 * 400, 0) == 100
    assert rw.port_cycles(64 * 400, 64 * 400) == 200
    split = spad(ports_per_bank=0, read_ports_per_bank=1, write_ports_per_bank=1)
    assert split.port_cycles(64 * 400, 64 * 400) == 100  # in the same cycles
    assert split.port_cycles(64 * 800, 0) == 200  # the write port cannot read
    both = spad(read_ports_per_bank=1)  # one read-write and one read-only
    assert both.port_cycles(64 * 800, 0) == 100
    assert both.port_cycles(64 * 400, 64 * 400) == pytest.approx(800 / 8)
    assert (rw.ports, split.ports, both.ports) == (1, 2, 2)
    assert split.bytes_per_cycle == 2 * 4 * 8


@pytest.mark.parametrize(("ports", "field"), [
    ({"ports_per_bank": 0, "write_ports_per_bank": 1}, "read_ports_per_bank"),
    ({"ports_per_bank": 0, "read_ports_per_bank": 1}, "write_ports_per_bank"),
])
def test_a_bank_must_be_readable_and_writable(tmp_path: Path, ports: dict, field: str) -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    with pytest.raises(ConfigError) as info:
        hw.with_overrides({f"scratchpads.0.{k}": v for k, v in ports.items()})
    message = str(info.value)
    assert f"scratchpads[0].{field}" in message and "must be >= 1" in message


def test_fetches_see_the_read_ports() -> None:
    # the array's operand fetches read: a read-only port serves them as a read-write one does
    read_only = spad(ports_per_bank=0, read_ports_per_bank=2, write_ports_per_bank=1)
    assert fold_fetch_stalls(read_only, 32, 16, 8) == fold_fetch_stalls(
        spad(ports_per_bank=2), 32, 16, 8)


def test_an_op_waits_on_too_few_ports_and_more_are_never_slower() -> None:
    # edge_npu's one single-ported unified scratchpad feeds a 32 x 32 array and its DMA: a
    # large GEMM's reads and writes there outlast its compute
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("gemm", m=512, n=512, k=512)
    one = pysim.simulate(hw, wl)
    row = one.layers.iloc[0]
    assert row["port_stall_cycles"] > 0
    spd = hw.scratchpads[0]
    reads, writes = (8 * one.level_bytes[spd.name][w] for w in ("read", "write"))
    assert row["compute_cycles"] == pytest.approx(spd.port_cycles(reads, writes), abs=1)
    four = pysim.simulate(hw.with_overrides({"scratchpads.0.ports_per_bank": 4}), wl)
    assert four.layers["port_stall_cycles"].iloc[0] < row["port_stall_cycles"]
    assert four.latency_cycles <= one.latency_cycles


def test_units_with_their_own_operand_memories_do_not_wait_on_ports() -> None:
    # the XNOR array's PEs read their weights from memories of their own (FINN): its ops take
    # no port stalls however much they read
    hw = pysim.load_hardware(ROOT / "configs" / "lowp_edge.yaml")
    res = pysim.simulate(hw, pysim.zoo.load("resnet18_precision", bits=1))
    xnor = res.layers[res.layers["unit"] == "xnor_array"]
    assert len(xnor) and (xnor["port_stall_cycles"] == 0).all()
