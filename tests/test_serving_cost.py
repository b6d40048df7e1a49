"""Shape-cached iteration cost: interpolation between grid points stays close to simulating
the exact shape (pysim/serving/cost.py)."""

from __future__ import annotations

import pytest

import pysim
import pysim.serving as sv
from pysim.gpu.kernels import first_launch_s
from pysim.serving.cost import grid

A100 = pysim.gpu.preset("a100")
SPEC = sv.model("llama2_7b")


def test_grid_is_exact_then_geometric() -> None:
    g = grid(16, 8, limit=4096)
    assert g[:16] == list(range(1, 17))
    assert all(b > a for a, b in zip(g, g[1:], strict=False))
    assert max(b / a for a, b in zip(g[16:], g[17:], strict=False)) < 1.12


@pytest.mark.parametrize("tokens", [23, 77, 301, 1500, 3333])
def test_interpolated_pieces_match_direct_simulation(tokens: int) -> None:
    cm = sv.CostModel(A100, SPEC)
    launch = first_launch_s(A100)  # a piece in an iteration pays no launch of its own
    assert launch == pytest.approx(4e-6)
    for interp, wl in ((cm.block(tokens), SPEC.block_workload(tokens)),
                       (cm.ffn(tokens), SPEC.ffn_workload(tokens))):
        direct = pysim.simulate(A100, wl)
        assert interp.seconds == pytest.approx(direct.latency_s - launch, rel=0.08)
    direct = pysim.simulate(A100, SPEC.attention_workload(tokens // 16 + 1, 1, tokens))
    assert cm.attention(tokens // 16 + 1, 1, tokens).seconds == pytest.approx(
        direct.latency_s - launch, rel=0.08)


def test_cache_hits_on_repeat() -> None:
    cm = sv.CostModel(A100, SPEC)
    cm.block(300)
    calls = cm.calls
    cm.block(300)
    assert cm.calls == calls and cm.hits >= 1
