"""The bit_serial and xnor unit kinds of a hardware description: YAML loading and validation,
the MAC-unit interface they implement for the mapper (tile_cost equal to the unit's own closed
form, supports, grains, peaks) and their energy per MAC (docs/low_precision_units.md,
"Integration")."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

import pysim
from pysim.config.energy_table import load_energy_table
from pysim.config.loader import hardware_from_dict
from pysim.config.units import UNIT_KINDS, BitSerialUnit, XnorUnit
from pysim.errors import ConfigError
from pysim.units import BitSerialArray, XnorArray
from pysim.workload import Gemm, Matmul

ROOT = Path(__file__).resolve().parents[1]
LOWP = ROOT / "configs" / "lowp_edge.yaml"
BASE = yaml.safe_load(LOWP.read_text())
T45 = load_energy_table("45nm")


def gemm(w: int, a: int, m: int = 64, n: int = 64, k: int = 256, out: int | None = None,
         dtype: str = "int") -> Gemm:
    return Gemm(name="fc", inputs=("x",), m=m, n=n, k=k, weight_bits=w, act_bits=a,
                out_bits=out, dtype=dtype)


def bit_serial(**fields: Any) -> BitSerialUnit:
    return BitSerialUnit(**{"kind": "bit_serial", "name": "bs", "dm": 8, "dn": 8, "dk": 64,
                            **fields})


def xnor(**fields: Any) -> XnorUnit:
    return XnorUnit(**{"kind": "xnor", "name": "bnn", "pe": 16, "simd": 64, **fields})


# --- loading and validation ------------------------------------------------------------------


def test_lowp_edge_loads_with_the_new_kinds() -> None:
    hw = pysim.load_hardware(LOWP)
    assert {"bit_serial", "xnor"} <= set(UNIT_KINDS)
    assert [u.kind for u in hw.units] == ["systolic_array", "bit_serial", "xnor"]
    assert hw.dispatch == "fastest"
    bs, bnn = hw.unit("bitserial_array"), hw.unit("xnor_array")
    assert isinstance(bs, BitSerialUnit) and isinstance(bnn, XnorUnit)
    assert bs.build() == BitSerialArray(8, 8, 64, "bismo", 32)
    assert bnn.build() == XnorArray(128, 128, 16)
    assert (bs.pes, bnn.pes) == (64, 128)
    assert bs.peak_macs_per_cycle == 8 * 8 * 64 / 64  # at w8a8
    assert bnn.peak_macs_per_cycle == 128 * 128  # binary MACs
    assert bs.mac_bits == 32 and bnn.mac_bits == 16
    assert bs.sparsity == bnn.sparsity == "none"
    # round trip through the dotted-path overrides; changing a field revalidates
    assert hw.with_overrides(hw.flat_params()) == hw
    stripes = hw.with_overrides({"units.1.mode": "STRIPES", "units.2.simd": 64})
    assert stripes.units[1].mode == "stripes" and stripes.units[2].simd == 64


def test_unit_models_follow_copies() -> None:
    unit = bit_serial()
    narrow = unit.model_copy(update={"dk": 32})
    assert (unit.peak_macs_per_cycle, narrow.peak_macs_per_cycle) == (64, 32)
    assert xnor().model_copy(update={"simd": 8}).peak_macs_per_cycle == 16 * 8


def test_defaults() -> None:
    bs = BitSerialUnit(kind="bit_serial", name="b", dm=1, dn=1, dk=1)
    assert (bs.mode, bs.precisions, bs.acc_bits) == ("bismo", (1, 2, 3, 4, 5, 6, 7, 8), 32)
    bnn = XnorUnit(kind="xnor", name="x", pe=1)
    assert (bnn.simd, bnn.acc_bits) == (64, 32)


def edited(index: int, **fields: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["units"][index].update(fields)
    return data


@pytest.mark.parametrize(("index", "fields", "where", "allowed"), [
    (1, {"precisions": [0, 4]}, "units[1].precisions[0]", ">= 1"),
    (1, {"precisions": [4, 33]}, "units[1].precisions[1]", "<= 32"),
    (1, {"precisions": [4, 4]}, "units[1].precisions", "must not repeat"),
    (1, {"precisions": []}, "units[1].precisions", "at least 1"),
    (1, {"acc_bits": 4}, "units[1].acc_bits", ">= the widest precision (8 bits)"),
    (1, {"acc_bits": 65}, "units[1].acc_bits", "<= 64"),
    (1, {"mode": "loom"}, "units[1].mode", "'bismo', 'stripes' or 'bitfusion'"),
    (1, {"dk": 0}, "units[1].dk", ">= 1"),
    (1, {"dm": 5000}, "units[1].dm", "<= 4096"),
    (1, {"dn": 2.5}, "units[1].dn", "integer"),
    (1, {"sparsity": "sometimes"}, "units[1].sparsity", "'skipping'"),
    (1, {"rows": 8}, "units[1].rows", "not a known field"),
    (2, {"pe": 0}, "units[2].pe", ">= 1"),
    (2, {"simd": 5000}, "units[2].simd", "<= 4096"),
    (2, {"acc_bits": 0}, "units[2].acc_bits", ">= 1"),
    (2, {"precisions": [1]}, "units[2].precisions", "not a known field"),
    (2, {"sparsity": "gating"}, "units[2].sparsity", "'none'"),
])
def test_bad_fields_are_config_errors_naming_the_field(index: int, fields: dict[str, Any],
                                                       where: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as info:
        hardware_from_dict(edited(index, **fields), source="lowp.yaml")
    message = str(info.value)
    assert where in message and allowed in message, message


def test_missing_fields_and_bad_dispatch() -> None:
    data = copy.deepcopy(BASE)
    del data["units"][1]["dk"]
    with pytest.raises(ConfigError, match=r"units\[1\]\.dk is required"):
        hardware_from_dict(data)
    data = copy.deepcopy(BASE)
    data["dispatch"] = "cheapest"
    with pytest.raises(ConfigError, match=r"dispatch must be one of 'first', 'fastest', "
                                          r"'lowest_energy' or 'earliest_finish', got "
                                          r"'cheapest'"):
        hardware_from_dict(data)
    for policy in ("lowest_energy", "earliest_finish"):
        data["dispatch"] = policy
        assert hardware_from_dict(data).dispatch == policy
    del data["dispatch"]
    assert hardware_from_dict(data).dispatch == "first"  # the default: the previous behaviour


# --- the MAC-unit interface ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["bismo", "stripes", "bitfusion"])
@pytest.mark.parametrize(("m", "n", "k", "w", "a"), [
    (1, 1, 1, 1, 1), (37, 19, 300, 4, 8), (64, 64, 64, 8, 8), (100, 7, 1000, 2, 3),
    (8, 130, 65, 1, 8), (3, 5, 17, 16, 16),
])
def test_bit_serial_tile_cost_is_the_units_closed_form(mode: str, m: int, n: int, k: int,
                                                       w: int, a: int) -> None:
    unit = bit_serial(mode=mode, dm=4, dn=8, dk=32, precisions=tuple(range(1, 17)))
    c = unit.build().cost(m, n, k, a_bits=a, b_bits=w)
    t = unit.tile_cost(m, n, k, gemm(w, a))
    assert (t.cycles, t.macs, t.folds) == (c.cycles, c.macs, c.m_tiles * c.n_tiles)
    # operand bits delivered to the DPUs, as element reads at the operand widths
    assert t.input_reads * a == c.a_read_bits and t.weight_reads * w == c.b_read_bits
    assert (t.output_writes, t.output_reads) == (c.out_writes, 0)
    assert unit.grains() == (4, 8, 32) and unit.fetch_streams(m, n, k) == ()


@pytest.mark.parametrize(("m", "n", "k", "out"), [
    (1, 1, 1, 1), (900, 64, 27, 1), (784, 64, 576, 1), (1, 10, 512, 16), (50, 300, 4608, 8),
])
def test_xnor_tile_cost_is_the_units_closed_form(m: int, n: int, k: int, out: int) -> None:
    unit = xnor(pe=16, simd=32)
    c = unit.build().cost(m, n, k, thresholded=out == 1)
    t = unit.tile_cost(m, n, k, gemm(1, 1, out=out))
    assert (t.cycles, t.macs, t.folds) == (c.cycles, c.macs, m * c.neuron_folds)
    assert (t.input_reads, t.weight_reads) == (c.a_read_bits, c.b_read_bits)  # 1-bit operands
    assert (t.output_writes, t.output_reads) == (c.out_writes, 0)
    assert t.cycles == m * math.ceil(n / 16) * math.ceil(k / 32) + math.ceil(math.log2(32)) + 2
    assert unit.grains() == (1, 16, 32) and unit.fetch_streams(m, n, k) == ()


def test_supports() -> None:
    bs = bit_serial(precisions=(2, 4, 8))
    assert bs.supports(gemm(4, 8)) and bs.supports(gemm(2, 2))
    assert not bs.supports(gemm(1, 1))  # 1 bit not listed: no binary support
    assert not bs.supports(gemm(4, 3)) and not bs.supports(gemm(16, 8))
    assert not bs.supports(gemm(8, 8, dtype="float"))
    bnn = xnor()
    assert bnn.supports(gemm(1, 1)) and bnn.supports(gemm(1, 1, out=8))
    assert not bnn.supports(gemm(1, 8)) and not bnn.supports(gemm(8, 1))
    assert not bnn.supports(gemm(1, 1, dtype="float"))
    # a matmul's two operands are both activations: act_bits for both (as the mapper reads B)
    mm = Matmul(name="mm", inputs=("a", "b"), m=4, n=4, k=64, weight_bits=8, act_bits=1)
    assert bnn.supports(mm) and not bs.supports(mm)


# --- energy per MAC ----------------------------------------------------------------------------


def test_energy_table_has_the_bit_level_entries_with_sources() -> None:
    and_bit, xnor_bit = T45.entries["and_popcount_bit_pj"], T45.entries["xnor_popcount_bit_pj"]
    assert and_bit.value == T45.value("int8_mult_pj") / 64 == 0.003125
    assert xnor_bit.value == pytest.approx(1.1 * and_bit.value)
    assert "Horowitz" in and_bit.source and "ASSUMPTION" in and_bit.source
    assert "ASSUMPTION" in xnor_bit.source
    assert and_bit.scaling == xnor_bit.scaling == "dynamic"
    # a custom table without them derives the same numbers
    bare = T45.model_copy(update={"entries": {k: v for k, v in T45.entries.items()
                                              if "popcount" not in k}})
    assert bare.and_popcount_bit_pj() == T45.and_popcount_bit_pj()
    assert bare.xnor_popcount_bit_pj() == pytest.approx(T45.xnor_popcount_bit_pj())
    # they scale with the node like the other dynamic entries
    t16 = T45.scaled_to(16)
    factor = t16.value("int8_mult_pj") / T45.value("int8_mult_pj")
    assert t16.and_popcount_bit_pj() == pytest.approx(0.003125 * factor)


def test_bismo_mac_energy_scales_with_w_times_a() -> None:
    bs = bit_serial()  # dk = 64, acc 32
    e88, e48, e44, e11 = (bs.mac_pj(T45, gemm(w, a, k=576)) for w, a in
                          ((8, 8), (4, 8), (4, 4), (1, 1)))
    # w x a bit products at 0.2 / 64 pJ, plus one 32-bit accumulate per 64 bit products
    assert e88 == pytest.approx(64 * 0.003125 + 0.1)
    assert e88 == pytest.approx(T45.mac_pj(8, 8))  # = the int8 MAC: 0.3 pJ
    assert e44 == pytest.approx(e88 / 4)  # w4a4 is a quarter of w8a8
    assert e48 == pytest.approx(e88 / 2)
    assert e11 == pytest.approx(e88 / 64)
    # K not a multiple of dk: the last, partial chunk still costs a full accumulate
    assert bs.mac_pj(T45, gemm(8, 8, k=100)) == pytest.approx(0.2 + 0.1 * 2 * 64 / 100)


def test_stripes_and_bitfusion_mac_energy() -> None:
    stripes = bit_serial(mode="stripes")  # one accumulate per activation bit per 64 lanes
    assert stripes.mac_pj(T45, gemm(8, 8, k=640)) == pytest.approx(0.2 + 0.1 * 8 / 64)
    fusion = bit_serial(mode="bitfusion", dk=16)  # 2x2-bit BitBricks: 1 bit pads to 2
    pf44 = (8 // 4) * (8 // 4)
    assert fusion.mac_pj(T45, gemm(4, 4, k=640)) == pytest.approx(
        16 * 0.003125 + 0.1 / (16 * pf44))
    assert fusion.mac_pj(T45, gemm(1, 1, k=640)) == pytest.approx(
        fusion.mac_pj(T45, gemm(2, 2, k=640)))


def test_xnor_mac_energy() -> None:
    bnn = xnor(simd=64, acc_bits=16)
    add16 = T45.add_pj(16)
    # XNOR + popcount input, one accumulate per 64-bit synapse fold, one threshold per output
    assert bnn.mac_pj(T45, gemm(1, 1, k=576, out=1)) == pytest.approx(
        0.0034375 + (9 + 1) * add16 / 576)
    assert bnn.mac_pj(T45, gemm(1, 1, k=576, out=8)) == pytest.approx(0.0034375 + 9 * add16 / 576)
    # a binary MAC is some 60 to 90 times cheaper than the int8 MAC
    assert 50 < T45.mac_pj(8, 8) / bnn.mac_pj(T45, gemm(1, 1, k=576, out=1)) < 100
