"""Dynamic computation and the Orca baselines' allocator, against hand computations: MoE
routing replayed from a recorded trace, layer skipping inside the network, the buddy
allocator and the vLLM paper's reservations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pysim
import pysim.serving as sv
from pysim.errors import ConfigError
from pysim.serving.cost import IterationShape

A100 = pysim.gpu.preset("a100")
SPEC = sv.model("llama2_7b")


@pytest.fixture(scope="module")
def cost() -> sv.CostModel:
    return sv.CostModel(A100, SPEC)


def test_routing_trace_replays_rows_and_scales_by_largest_remainder() -> None:
    r = sv.Routing.from_trace([[6, 2, 0], [1, 1, 1]])
    rng = np.random.default_rng(0)
    # row 0 has 8 assignments; 4 tokens x top-1 = 4: 6/8 x 4 = 3, 2/8 x 4 = 1
    assert r.expert_tokens(4, 3, 1, rng, iteration=0) == (3, 1, 0)
    # row 1 scaled to 4: 4/3 each -> 1, 1, 1 and the remainder to the lowest expert
    assert r.expert_tokens(4, 3, 1, rng, iteration=1) == (2, 1, 1)
    # rows cycle; a row with exactly the iteration's assignments is replayed as recorded
    assert r.expert_tokens(8, 3, 1, rng, iteration=2) == (6, 2, 0)
    # no expert gets more tokens than there are (top-2 over 4 tokens: 8 slots)
    assert r.expert_tokens(4, 3, 2, rng, iteration=0) == (4, 4, 0)
    assert r.probabilities(3) == pytest.approx([7 / 11, 3 / 11, 1 / 11])


def test_routing_trace_in_a_serving_run_prices_the_recorded_experts() -> None:
    mix = sv.model("mixtral_8x7b", precision="int8")
    rows = [[3, 3, 1, 1, 0, 0, 0, 0],  # the 4-token prefill, top-2: 8 slots
            [0, 0, 0, 0, 1, 1, 0, 0],  # then one token per decode step
            [1, 0, 0, 0, 0, 0, 0, 1]]
    h100 = pysim.gpu.preset("h100")
    cm = sv.CostModel(h100, mix)
    res = sv.serve(h100, mix, [sv.Request(0, 0.0, 4, 3)], cost_model=cm,
                   routing=sv.Routing.from_trace(rows))
    secs = res.iterations["seconds"].tolist()
    hand = [cm.iteration(IterationShape(4, 1, prefills=((4, 4),), expert_tokens=(3, 3, 1, 1,
                                                                                 0, 0, 0, 0))),
            cm.iteration(IterationShape(1, 1, decode_batch=1, decode_kv_mean=5,
                                        expert_tokens=tuple(rows[1]))),
            cm.iteration(IterationShape(1, 1, decode_batch=1, decode_kv_mean=6,
                                        expert_tokens=tuple(rows[2])))]
    assert secs == pytest.approx([c.seconds for c in hand], rel=1e-12)
    # a skewed row costs more than a balanced one of the same tokens (an expert's weights are
    # read once per iteration whatever it receives; the busiest expert runs more rows)
    skew = cm.iteration(IterationShape(8, 8, decode_batch=8, decode_kv_mean=64,
                                       expert_tokens=(8, 8, 0, 0, 0, 0, 0, 0)))
    flat = cm.iteration(IterationShape(8, 8, decode_batch=8, decode_kv_mean=64,
                                       expert_tokens=(2,) * 8))
    assert skew.seconds < flat.seconds  # two experts' weights read instead of eight


def test_routing_trace_csv_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("e0,e1,e2,e3\n5,3,0,0\n2,2,2,2\n")
    r = sv.Routing.from_csv(path)
    assert r.trace == ((5, 3, 0, 0), (2, 2, 2, 2))
    path.write_text("e0,e1\n5,3\n2,-1\n")
    with pytest.raises(ConfigError, match=r"r\.csv:3: counts must be integers >= 0, got -1"):
        sv.Routing.from_csv(path)
    path.write_text("5,3\n2\n")
    with pytest.raises(ConfigError, match=r"r\.csv:2: 1 counts, the first row has 2"):
        sv.Routing.from_csv(path)
    with pytest.raises(ConfigError, match=r"routing trace has 2 experts per row, the model "
                                          r"has 8"):
        sv.Routing.from_trace([[1, 1]]).probabilities(8)


def test_layer_skipping_always_skipped_layers_cost_nothing(cost: sv.CostModel) -> None:
    skip = [0.0] * 9 + [1.0] * 10 + [0.0] * 13  # layers 10-19 skipped by every decode token
    prompt, out = 200, 6
    res = sv.serve(A100, SPEC, [sv.Request(0, 0.0, prompt, out)], cost_model=cost,
                   layer_skip=sv.LayerSkip(skip))
    it = res.iterations
    assert it["layers"].tolist() == [32] + [22] * (out - 1)  # prefill runs every layer
    decodes = [cost.iteration(IterationShape(1, 1, decode_batch=1, decode_kv_mean=prompt + i + 1,
                                             layers=22)).seconds for i in range(out - 1)]
    assert it["seconds"].iloc[1:].tolist() == pytest.approx(decodes, rel=1e-12)


@pytest.mark.parametrize(("rebatch", "expected"), [
    (False, 32 - 4 * 0.5**4),  # a layer runs unless all 4 tokens skip it: 1 - 0.5^4 each
    (True, 32 - 4 * 0.5),      # the mean token runs half of the 4 skippable layers
])
def test_layer_skipping_straggler_and_rebatching(cost: sv.CostModel, rebatch: bool,
                                                 expected: float) -> None:
    skip = [0.0] * 14 + [0.5] * 4 + [0.0] * 14
    ls = sv.LayerSkip(skip, rebatch=rebatch)
    assert ls.expected_layers(4, 32) == pytest.approx(expected)
    reqs = [sv.Request(i, 0.0, 64, 301) for i in range(4)]
    res = sv.serve(A100, SPEC, reqs, cost_model=cost, layer_skip=ls)
    layers = res.iterations.query("decode_batch == 4")["layers"]
    assert len(layers) == 300
    # 300 iterations: standard error 0.03 (straggler) / 0.03 (rebatch); 0.15 is 5 of them
    assert layers.mean() == pytest.approx(expected, abs=0.15)


def test_layer_skip_and_exit_profile_validation() -> None:
    with pytest.raises(ConfigError, match=r"skip must be a probability in \[0, 1\] or list 32"):
        sv.LayerSkip(1.5).check(32)
    with pytest.raises(ConfigError, match="not both"):
        sv.ServeConfig(exit_profile=sv.ExitProfile([0.0] * 32), layer_skip=sv.LayerSkip(0.1))
    assert sv.LayerSkip(0.25).expected_layers(1, 32) == pytest.approx(24.0)


def test_buddy_allocator_splits_merges_and_fragments() -> None:
    b = sv.BuddyAllocator(963)  # 512 + 256 + 128 + 64 + 2 + 1
    assert b.free_blocks == 963
    offsets = [b.alloc(128) for _ in range(8)]
    # the smallest free chunk that fits goes first (768's 128), then splits of larger ones
    assert offsets[:7] == [768, 512, 640, 0, 128, 256, 384] and offsets[7] is None  # 7 fit
    for o in offsets[:7]:
        assert o is not None
        b.free(o, 128)
    assert b.free_blocks == 963 and b.alloc(512) == 0  # every split merged back
    # external fragmentation: two free blocks that are not buddies hold no 2-block request
    small = sv.BuddyAllocator(4)
    got = [small.alloc(1) for _ in range(4)]
    assert got == [0, 1, 2, 3]
    small.free(0, 1)
    small.free(2, 1)
    assert small.free_blocks == 2 and small.alloc(2) is None
    small.free(1, 1)  # 0 and 1 merge into a 2-block chunk
    assert small.alloc(2) == 0
    assert sv.BuddyAllocator.order(13) == 4  # 13 blocks take a 16-block chunk


@pytest.mark.parametrize(("reservation", "blocks"), [
    ("max", 128),     # OPT-13B's 2,048 tokens: 128 blocks
    ("pow2", 16),     # 161 + 32 (output 25 -> 32) = 193 tokens: 13 blocks -> buddy 16
    ("oracle", 16),   # 161 + 25 = 186 tokens: 12 blocks -> buddy 16
])
def test_orca_reservations_follow_the_vllm_paper(reservation: str, blocks: int) -> None:
    opt = sv.model("opt_13b")
    res = sv.serve(pysim.gpu.preset("a100_40gb"), opt, [sv.Request(0, 0.0, 161, 25)],
                   scheduler="orca", reservation=reservation)
    assert set(res.iterations["kv_blocks_used"].iloc[:-1]) == {blocks}
    exact = sv.serve(pysim.gpu.preset("a100_40gb"), opt, [sv.Request(0, 0.0, 161, 25)],
                     scheduler="orca", reservation=reservation, buddy=False)
    assert set(exact.iterations["kv_blocks_used"].iloc[:-1]) == {
        {"max": 128, "pow2": 13, "oracle": 12}[reservation]}
    assert math.ceil((161 + 32) / 16) == 13
