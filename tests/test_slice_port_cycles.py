"""The tiling search's port-cycle table in C++ (``_core.port_cycles_table``, through
``tiling.slice_port_cycles``) equals its NumPy reference (``slice_port_cycles_reference``) to
the bit, on every call the search makes over shipped configs and zoo networks, and refuses bad
arguments with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pysim
from pysim import _core
from pysim.mapping import tiling
from pysim.memo import clear_caches

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("config, name", [("tpu_v1", "resnet50"), ("eyeriss", "resnet18"),
                                          ("edge_npu", "mobilenet_v2"), ("tpu_v1", "bert_base"),
                                          ("lowp_edge", "resnet18")])
def test_the_table_equals_its_reference_on_every_search(monkeypatch: pytest.MonkeyPatch,
                                                        config: str, name: str) -> None:
    calls: list[int] = []
    fast = tiling.slice_port_cycles

    def both(*args: object) -> np.ndarray:
        got = fast(*args)  # type: ignore[arg-type]
        want = tiling.slice_port_cycles_reference(*args)  # type: ignore[arg-type]
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        calls.append(got.size)
        return got

    monkeypatch.setattr(tiling, "slice_port_cycles", both)
    clear_caches()
    pysim.simulate(pysim.load_hardware(ROOT / "configs" / f"{config}.yaml"), pysim.zoo.load(name))
    clear_caches()
    assert calls and sum(calls) > 1000


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
    bad = [({"rates": np.zeros((2, 3))}, "rates must be > 0"),
           ({"rates": np.ones((2, 2))}, "rates must have shape"),
           ({"home": (0, 0, 2)}, "home levels out of range"),
           ({"rows": np.array([[5, -1, -1, -1, 0, 0, 0]])}, "levels must be -1 or a level"),
           ({"rows": np.array([[-1, -1, -1, -1, 4, 0, 0]])}, "refetch loops must be 0..3"),
           ({"rows": np.zeros((1, 6), dtype=np.int64)}, "rows must have shape"),
           ({"trips_n": np.ones(2, dtype=np.int64)}, "trips_n must have shape"),
           ({"drain": np.ones(4)}, "must have shape")]
    for change, words in bad:
        with pytest.raises(ValueError) as err:
            _core.port_cycles_table(**_args(**change))
        assert "\n" not in str(err.value) and words in str(err.value), (change, err.value)
