"""Which GEMM dimension several arrays split (``spatial.arrays``, issue 11's spatial
unrolling "over several arrays / cores"): the columns' by default, the streamed one with the
weights broadcast, or K with a cross-array sum of partial sums."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.errors import ConfigError
from pysim.mapping.tile_model import SystolicTiles

ROOT = Path(__file__).resolve().parents[1]


def tpu(arrays: int, split: str | None = None) -> pysim.Hardware:
    over: dict = {"units.0.arrays": arrays}
    if split is not None:
        over["units.0.spatial"] = {"rows": "k", "cols": "n", "arrays": split}
    return pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml").with_overrides(over)


def test_splitting_the_streamed_dimension_streams_half_the_rows_each() -> None:
    # WS, 256 x 256, two arrays, GEMM 2048 x 256 x 256: split N leaves half of each array's
    # columns idle (2048 + 256 + 256 - 2 cycles a fold, 2814 with the preload); split M
    # streams 1024 rows through each (1790): B, indexed by K and N only, is broadcast
    def cost(split: tuple[str, ...]):  # noqa: ANN202
        return SystolicTiles(256, 256, "ws", "pipelined", 1, 2, split).evaluate(2048, 256, 256)

    by_n, by_m = cost(()), cost(("k", "n", "m"))
    assert int(by_n.cycles) == 2048 + 256 + 256 - 2 + 256
    assert int(by_m.cycles) == 1024 + 256 + 256 - 2 + 256
    assert cost(("k", "n", "n")).cycles == by_n.cycles  # the default, named
    for x in ("a_reads", "b_reads", "c_writes", "c_reads"):  # the same operand traffic
        assert int(getattr(by_m, x)) == int(getattr(by_n, x)), x


def test_splitting_k_sums_every_arrays_partial_sums() -> None:
    one = SystolicTiles(256, 256, "ws", "pipelined", 1, 1).evaluate(64, 256, 512)
    two = SystolicTiles(256, 256, "ws", "pipelined", 1, 2, ("k", "n", "k")).evaluate(
        64, 256, 512)
    assert int(two.folds) == 1 and int(one.folds) == 2  # each array a 256-deep slice of K
    assert int(two.c_writes) == 2 * 64 * 256  # each array's partial sums leave it ...
    assert int(two.c_reads) == 64 * 256  # ... and all but the final value are read back


def test_the_grain_and_the_loop_nest_follow_the_split() -> None:
    unit = tpu(4, "m").units[0]
    assert unit.split_dim == "m" and unit.grains() == (4, 256, 256)
    assert tpu(4).units[0].grains() == (1, 1024, 256)  # the columns', as before
    res = pysim.simulate(tpu(2, "m"), pysim.zoo.load("gemm", m=2048, n=256, k=256))
    nest = res.layers["mapping"].iloc[0].loop_nest()
    assert "spatial_for ma in [0:2)" in nest and "m split over 2 arrays" in nest
    assert "for m in [0:1024)" in nest


def test_the_default_split_is_the_columns_and_naming_it_changes_nothing() -> None:
    wl = pysim.zoo.load("resnet18")
    a, b = pysim.simulate(tpu(2), wl), pysim.simulate(tpu(2, "n"), wl)
    assert a.latency_cycles == b.latency_cycles and a.energy_j == b.energy_j
    assert a.dram_read_bytes == b.dram_read_bytes


@pytest.mark.parametrize("split", ["m", "n", "k"])
def test_more_arrays_are_never_slower_whatever_they_split(split: str) -> None:
    for m, n, k in [(2048, 256, 256), (64, 1024, 512), (300, 200, 700)]:
        wl = pysim.zoo.load("gemm", m=m, n=n, k=k)
        one = pysim.simulate(tpu(1), wl).latency_cycles
        for arrays in (2, 4):
            assert pysim.simulate(tpu(arrays, split), wl).latency_cycles <= one, (split, m)


def test_an_unknown_split_dimension_names_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        tpu(2, "x")
    msg = str(err.value)
    assert "\n" not in msg and "spatial.arrays" in msg and "'x'" in msg, msg
