"""The tiling search's tables in C++ equal their NumPy references to the bit on every call the
search makes over shipped configs and zoo networks: the port cycles of every (slice, candidate)
(``_core.port_cycles_table`` through ``tiling.slice_port_cycles``, reference
``slice_port_cycles_reference``) and a systolic array's tile model summed per candidate
(``_core.systolic_tile_sums`` through ``tiling.tile_sums``, reference ``tile_sums_reference``,
also on random arrays, unrollings and GEMMs); both refuse bad arguments in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core
from pysim.mapping import tiling
from pysim.memo import clear_caches

ROOT = Path(__file__).resolve().parent.parent


CASES = [("tpu_v1", "resnet50"), ("eyeriss", "resnet18"), ("edge_npu", "mobilenet_v2"),
         ("tpu_v1", "bert_base"), ("lowp_edge", "resnet18")]


@pytest.mark.parametrize("config, name", CASES)
@pytest.mark.parametrize("table", ["slice_port_cycles", "tile_sums"])
def test_each_table_equals_its_reference_on_every_search(monkeypatch: pytest.MonkeyPatch,
                                                         table: str, config: str,
                                                         name: str) -> None:
    calls: list[int] = []
    fast = getattr(tiling, table)
    reference = getattr(tiling, f"{table}_reference")

    def both(*args: Any) -> Any:
        got, want = fast(*args), reference(*args)
        for g, w in zip(np.atleast_2d(*got) if isinstance(got, tuple) else [got],
                        np.atleast_2d(*want) if isinstance(want, tuple) else [want],
                        strict=True):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
        calls.append(1)
        return got

    monkeypatch.setattr(tiling, table, both)
    clear_caches()
    pysim.simulate(pysim.load_hardware(ROOT / "configs" / f"{config}.yaml"), pysim.zoo.load(name))
    clear_caches()
    assert len(calls) >= 5


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64), st.sampled_from(["os", "ws", "is"]),
       st.sampled_from(["pipelined", "scalesim"]), st.integers(1, 4), st.integers(1, 4),
       st.permutations("mnk"), st.booleans(), st.booleans(),
       st.tuples(st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 3000)),
       st.integers(0, 2**32))
def test_systolic_tile_sums_equal_the_tile_model(rows: int, cols: int, dataflow: str,
                                                 timing: str, pe_weights: int, arrays: int,
                                                 dims: list[str], custom: bool, split_k: bool,
                                                 gemm: tuple[int, int, int], seed: int) -> None:
    from pysim.mapping.tile_model import SystolicTiles

    spatial: tuple[str, ...] = ()
    if custom:
        spatial = (dims[0], dims[1], "k" if split_k else dims[1])
    model = SystolicTiles(rows, cols, dataflow, timing, pe_weights, arrays, spatial)
    rng = np.random.default_rng(seed)
    tiles = [rng.integers(1, d + 1, size=12) for d in gemm]
    got = tiling.tile_sums(model, *gemm, *tiles)
    want = tiling.tile_sums_reference(model, *gemm, *tiles)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def _args(**change: Any) -> dict[str, Any]:
    n = 3
    ones = np.ones(n)
    args: dict[str, Any] = dict(
        rates=np.array([[64.0, 64.0, 64.0], [32.0, 32.0, 64.0]]), home=(0, 0, 1),
        rows=np.array([[-1, -1, 1, -1, 2, 1, 0]], dtype=np.int64), a_on_chip=False,
        trips_m=np.array([1, 2, 3]), trips_n=np.array([2, 2, 2]), trips_k=np.array([1, 1, 4]),
        a_bits=ones, b_bits=ones, psum_r=ones, psum_w=ones, a_pass=ones, b_pass=ones,
        c_pass=ones, p_pass=ones, drain=ones, accumulate=ones)
    args.update(change)
    return args


def test_bad_arguments_are_refused_in_one_line() -> None:
    assert _core.port_cycles_table(**_args()).shape == (1, 3)
    bad: list[tuple[dict[str, Any], str]] = [({"rates": np.zeros((2, 3))}, "rates must be > 0"),
           ({"rates": np.ones((2, 2))}, "rates must have shape"),
           ({"home": (0, 0, 2)}, "home levels out of range"),
           ({"rows": np.array([[5, -1, -1, -1, 0, 0, 0]])}, "levels must be -1 or a level"),
           ({"rows": np.array([[-1, -1, -1, -1, 4, 0, 0]])}, "refetch loops must be 0..3"),
           ({"rows": np.zeros((1, 6), dtype=np.int64)}, "rows must have shape"),
           ({"trips_n": np.ones(2, dtype=np.int64)}, "trips_n must have shape"),
           ({"drain": np.ones(4)}, "must have shape"),
           ({"psum_r": np.ones(3) * 1j}, "psum_r must be a real numeric array"),
           ({"rows": np.array([["a"] * 7])}, "rows must be a real numeric array")]
    for change, words in bad:
        with pytest.raises(ValueError) as err:
            _core.port_cycles_table(**_args(**change))
        assert "\n" not in str(err.value) and words in str(err.value), (change, err.value)


def test_systolic_tile_sums_refuses_bad_arguments_in_one_line() -> None:
    def args(**change: Any) -> dict[str, Any]:
        one = np.ones(2, dtype=np.int64)
        out: dict[str, Any] = dict(rows=4, cols=4, spatial=(0, 1, 1), scalesim=False,
                                   pe_weights=1, arrays=1, m=8, n=8, k=8, mt=one, nt=one, kt=one)
        out.update(change)
        return out

    assert _core.systolic_tile_sums(**args()).shape == (5, 2)
    bad: list[tuple[dict[str, Any], str]] = [
           ({"spatial": (0, 0, 1)}, "two dimensions"), ({"spatial": (0, 3, 1)}, "0..2"),
           ({"rows": 0}, "rows must be in 1..2^31"), ({"k": -1}, "k must be"),
           ({"mt": np.zeros(2, dtype=np.int64)}, "tiles must be in"),
           ({"nt": np.ones(3, dtype=np.int64)}, "nt must have shape"),
           ({"kt": np.ones(2) + 1j}, "kt must be a real numeric array")]
    for change, words in bad:
        with pytest.raises(ValueError) as err:
            _core.systolic_tile_sums(**args(**change))
        assert "\n" not in str(err.value) and words in str(err.value), (change, err.value)
