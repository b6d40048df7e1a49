"""The tiling search's tables in C++ equal their NumPy references to the bit on every call the
search makes over shipped configs and zoo networks: the port cycles of every (slice, candidate)
(``_core.port_cycles_table`` through ``tiling.slice_port_cycles``, reference
``slice_port_cycles_reference``), a systolic array's tile model summed per candidate
(``_core.systolic_tile_sums`` through ``tiling.tile_sums``, reference ``tile_sums_reference``,
also on random arrays, unrollings and GEMMs) and plan_gemm's candidate set-up
(``_core.plan_candidates`` through ``tiling._setup``, reference ``_setup_reference``; every
plan_gemm result also against ``plan_gemm_reference``'s, on shipped configs x zoo networks and
on their calls perturbed at random); all refuse bad arguments in one line."""

from __future__ import annotations

import inspect
import random
from dataclasses import replace
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
           ({"rows": np.array([["a"] * 7])}, "rows must be a real numeric array"),
           ({"chains": np.zeros((2, 2), dtype=np.int64)}, "chains must have shape (3, levels)"),
           ({"chains": np.array([[5], [-1], [-1]])}, "chains' levels must be -1 or a level"),
           ({"chains": "x"}, "chains must be a real numeric array")]
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


# plan_gemm's candidate set-up: _core.plan_candidates (through tiling._setup) against
# tiling._setup_reference, and every plan_gemm result against plan_gemm_reference's.

SETUP_CONFIGS = ["tpu_v1", "edge_npu", "eyeriss", "lowp_edge", "lowp_float_edge"]
SETUP_NETWORKS = ["resnet50", "bert_base", "mobilenet_v2", "resnet18"]
_PLAN_PARAMS = list(inspect.signature(tiling.plan_gemm.__wrapped__).parameters)
_SETUP_PARAMS = list(inspect.signature(tiling._setup).parameters)
_FAST_SETUP = tiling._setup  # (a test swaps tiling._setup for a checking wrapper)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - both paths must fail alike
        return (type(exc), str(exc), getattr(exc, "least", None))


def _same_setup(args: tuple[Any, ...]) -> None:
    got, want = _outcome(_FAST_SETUP, *args), _outcome(tiling._setup_reference, *args)
    if isinstance(want, tuple) and not isinstance(want, tiling._Setup):
        assert got == want, args
        return
    assert isinstance(got, tiling._Setup), (got, args)
    fields: list[tuple[str, Any, Any]] = list(zip(tiling._Setup._fields, got, want, strict=True))
    assert want.room is None  # the room is the C++ set-up's (tests/test_tiling_room.py)
    for name, g, w in fields:
        if name == "room":
            continue
        for key in (sorted(w) if isinstance(w, dict) else [None]):
            gv, wv = (g[key], w[key]) if key is not None else (g, w)
            assert gv.shape == wv.shape and gv.dtype == wv.dtype, (name, key, args)
            np.testing.assert_array_equal(gv, wv, err_msg=f"{name} {key} {args}")


def _same_plan(call: dict[str, Any]) -> None:
    tiling._searched.cache_clear()  # each path searches for itself
    want = _outcome(tiling.plan_gemm_reference, *call.values())
    tiling._searched.cache_clear()
    got = _outcome(tiling.plan_gemm.__wrapped__, *call.values())
    assert got == want, call


def _recorded_calls(monkeypatch: pytest.MonkeyPatch, config: str,
                    name: str, train: bool = False) -> list[dict[str, Any]]:
    """Every plan_gemm call of a cold simulation (``train``: of the network's int8 training
    step, whose convolutions' weight gradients read feature maps: planner._patches_map), as
    {parameter: value} in order; each set-up it makes checked against the reference on the
    way."""
    from pysim.mapping import planner

    calls: list[dict[str, Any]] = []
    setups: list[int] = []
    cached = planner.plan_gemm

    def both_setups(*args: Any) -> Any:
        _same_setup(args)
        setups.append(1)
        return _FAST_SETUP(*args)

    def record(*args: Any, **kwargs: Any) -> Any:
        bound = inspect.signature(tiling.plan_gemm.__wrapped__).bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return cached(*args, **kwargs)

    monkeypatch.setattr(tiling, "_setup", both_setups)
    monkeypatch.setattr(planner, "plan_gemm", record)
    clear_caches()
    hw = pysim.load_hardware(ROOT / "configs" / f"{config}.yaml")
    if train:
        from pysim import training

        training.step(hw, name, "sgd", "int8")
    else:
        pysim.simulate(hw, pysim.zoo.load(name))
    clear_caches()
    monkeypatch.setattr(tiling, "_setup", _FAST_SETUP)
    monkeypatch.setattr(planner, "plan_gemm", cached)
    assert len(calls) >= 5 and len(setups) >= 3
    return calls


def _same_plans(calls: list[dict[str, Any]]) -> None:
    """``_same_plan`` on each distinct call."""
    for call in {repr(call): call for call in calls}.values():
        _same_plan(call)
    clear_caches()


@pytest.mark.parametrize("config", SETUP_CONFIGS)
@pytest.mark.parametrize("name", SETUP_NETWORKS)
def test_candidate_setup_and_plans_equal_the_reference_on_every_search(
        monkeypatch: pytest.MonkeyPatch, config: str, name: str) -> None:
    calls = _recorded_calls(monkeypatch, config, name)
    _same_plans(calls)


@pytest.mark.parametrize("config", ["tpu_v1", "edge_npu"])
def test_setup_and_plans_of_a_training_step_equal_the_reference(
        monkeypatch: pytest.MonkeyPatch, config: str) -> None:
    from pysim.mapping import planner

    patches = []
    made = planner._patches_map

    def counted(*args: Any) -> Any:
        patches.append(made(*args))
        return patches[-1]

    monkeypatch.setattr(planner, "_patches_map", counted)
    calls = _recorded_calls(monkeypatch, config, "resnet18", train=True)
    assert patches and any(c["a_map"] in patches for c in calls)  # weight gradients' maps
    _same_plans(calls)


def _perturbed(call: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A recorded call with its capacities, shape, grains, operand residency, DRAM burst,
    objective, ratios and scales redrawn at random (a feature map's A keeps M and its grain:
    it is keyed by the M candidates)."""
    c = dict(call)
    grains = [1, 3, 8, 12, 14, 16, 32, 33, 64, 128, 256]
    fixed_m = c["a_map"] is not None and rng.random() < 0.7
    if c["a_map"] is not None and not fixed_m:
        c["a_map"] = None
    for dim, grain in (("m", "grain_m"), ("n", "grain_n"), ("k", "grain_k")):
        if dim == "m" and fixed_m:
            continue
        if rng.random() < 0.4:
            c[dim] = rng.choice([1, 2, 7, 33, 100, 129, 1000, 3136, rng.randint(1, 5000),
                                 max(1, c[dim] // 2), c[dim] * 2])
        if rng.random() < 0.3:
            c[grain] = rng.choice(grains)
    if rng.random() < 0.2 and not fixed_m:
        c["more_grains"] = ((rng.choice(grains), rng.choice(grains), rng.choice(grains)),)
    cap = c["capacity"]
    if rng.random() < 0.8:
        groups = tuple((roles, int(size * rng.choice([1e-4, 0.01, 0.1, 0.3, 0.7, 1.0, 4.0])),
                        db if rng.random() < 0.8 else not db)
                       for roles, size, db in cap.resolved_groups())
        c["capacity"] = tiling.Capacity(groups=groups, outer=cap.outer)
    if rng.random() < 0.3:
        c["a_on_chip"] = not c["a_on_chip"]
    if rng.random() < 0.3:
        c["burst_bytes"] = rng.choice([1, 8, 32, 64, 128])
    if rng.random() < 0.2:
        c["run_overhead_bytes"] = rng.choice([0, 16, 64])
    obj = c["objective"]
    if rng.random() < 0.5:
        kinds = ["traffic", "latency", "energy", "edp"] if c["model"] is not None else ["traffic"]
        obj = replace(obj, kind=rng.choice(kinds))
    if rng.random() < 0.3:
        obj = replace(obj, max_steps=rng.choice([1, 2, 4, 16, 64]))
    if rng.random() < 0.1:
        obj = replace(obj, dram_key=None)
    c["objective"] = obj
    for ratio in ("a_ratio", "c_ratio"):
        if rng.random() < 0.2:
            c[ratio] = rng.choice([1.0, 0.5, 0.37, 1.3])
    for scale in ("a_scales", "b_scales"):
        if rng.random() < 0.2:
            c[scale] = rng.choice([1.0, 4.25 / 4, 8.25 / 8, 1.5])
    if rng.random() < 0.15:
        c["b_pass_bytes"] = rng.choice([None, 1, 4096, rng.randint(1, 10**7)])
    return c


@pytest.fixture(scope="module")
def recorded_calls() -> list[dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    try:
        calls = [call for config, name in [("tpu_v1", "resnet50"), ("edge_npu", "mobilenet_v2"),
                                           ("eyeriss", "resnet18"), ("lowp_edge", "bert_base"),
                                           ("lowp_float_edge", "resnet18")]
                 for call in _recorded_calls(mp, config, name)]
    finally:
        mp.undo()
    return calls


@pytest.mark.parametrize("seed", range(4))
def test_candidate_setup_and_plans_equal_the_reference_when_perturbed(
        recorded_calls: list[dict[str, Any]], seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(80):
        call = _perturbed(rng.choice(recorded_calls), rng)
        _same_setup(tuple(call[p] for p in _SETUP_PARAMS))
        _same_plan(call)
    clear_caches()


def test_setup_equals_the_reference_outside_the_cores_domain() -> None:
    # integers whose products wrap int64, a role twice in a group, integer scales, a float
    # pass size, an outer level past the groups: the set-up hands them to the reference
    cap = tiling.Capacity(1 << 70, 1 << 70, 1 << 70)
    base = dict(m=3, n=5, k=70, a_bits=8, b_bits=8, c_bits=8, psum_bits=32,
                capacity=tiling.Capacity(4096, 4096, 4096), grain_m=1, grain_n=1, grain_k=1,
                a_on_chip=False, burst_bytes=64, objective=tiling.TRAFFIC, a_map=None,
                b_pass_bytes=None, a_ratio=1.0, c_ratio=1.0, b_scales=1.0, more_grains=(),
                a_scales=1.0)
    changes: list[dict[str, Any]] = [
        {}, {"k": 1 << 61, "capacity": cap}, {"capacity": cap},
        {"capacity": tiling.Capacity(groups=((("input", "input", "weight", "output"), 4096,
                                              True),))},
        {"b_scales": 2, "a_scales": 3}, {"b_pass_bytes": 1234.5},
        {"capacity": tiling.Capacity(groups=((("input", "weight", "output"), 4096, True),),
                                     outer=(("output", 3),))},
        {"capacity": tiling.Capacity(1, 1, 1)}]
    for change in changes:
        args = dict(base, **change)
        _same_setup(tuple(args[p] for p in _SETUP_PARAMS))


def test_plan_candidates_refuses_bad_arguments_in_one_line() -> None:
    def args(**change: Any) -> dict[str, Any]:
        c = np.array([1, 2, 4], dtype=np.int64)
        out: dict[str, Any] = dict(
            dims=(4, 4, 4), cands=(c, c, c), grains=(2, 2, 2), bits=(8, 8, 32),
            a_on_chip=False, a_per_k=None, scales=(1.0, 1.0),
            fit=np.array([[7, 1 << 20, 2]], dtype=np.int64), anywhere=np.zeros((0, 3), np.int64),
            passes=(c, c, c, c), a_pass_dim=2, slow=None, timed=False, max_steps=16,
            held_terms=np.array([[0, 4], [8, 12]], dtype=np.int64),
            held_which=np.array([[0, 1, 0]], dtype=np.int64))
        out.update(change)
        return out

    pos, ints, rows, fits, room = _core.plan_candidates(**args())
    assert pos.tolist() == list(range(27)) and ints.shape == (11, 27) and room is None
    # every tiling's A + B + C fits twice over in 1 MiB: the largest (4 x 4 x 4 at 8, 8, 32
    # bits: 16 + 16 + 64 B, doubled 192 B) bounds the room from below, nothing from above
    assert _core.plan_candidates(**args(vary=0))[4] == (192, (1 << 63) - 1)
    assert rows.shape == (20, 27) and fits.shape == (3, 27) and fits.dtype == np.bool_
    one = np.ones(3, dtype=np.int64)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"dims": (0, 4, 4)}, "dims must be >= 1"),
        ({"cands": (one * 0, one, one)}, "ascending and >= 1"),
        ({"cands": (np.array([4, 2, 1]), one, one)}, "ascending and >= 1"),
        ({"cands": (np.array([1, 2]), one, one)}, "cands must reach"),
        ({"cands": (np.ones(3), one, one)}, "cands[0] must be an integer array"),
        ({"cands": (np.zeros(0, np.int64), one, one)}, "non-empty 1-D"),
        ({"fit": np.array([[8, 1, 1]])}, "role masks must be 0..7"),
        ({"fit": np.zeros((1, 2), np.int64)}, "fit must have shape"),
        ({"a_pass_dim": 1}, "a_pass_dim must be 0 or 2"),
        ({"passes": (one, one, one, one[:2])}, "must have shape (3,)"),
        ({"a_per_k": np.ones(2)}, "a_per_k must have shape (3,)"),
        ({"slow": (np.ones((3, 3)), np.ones((3, 3)), np.ones((2, 3)))},
         "slow[2] must have shape (3, 3)"),
        ({"held_terms": np.array([[0, 13]])}, "indices 0..12"),
        ({"held_which": np.array([[0, 2, 0]])}, "must index held_terms' rows"),
        ({"held_which": np.array([[0, 1, 0], [1, 1, 1]]),
          "fit": np.array([[7, 1, 1], [7, 1, 1]])}, "distinct held_terms rows"),
        ({"held_which": np.zeros((2, 3), np.int64)}, "a row per capacity group"),
        ({"held_which": np.array([["a", "b", "c"]])}, "held_which must be an integer array"),
        ({"cands": tuple(np.arange(1, 300, dtype=np.int64) for _ in range(3)),
          "dims": (299, 299, 299)}, "candidate tilings = 26730899 exceeds the limit of 2^24"),
        ({"vary": 1}, "vary must be a fit row (0..0) or -1, got 1"),
        ({"vary": 0, "anywhere": np.array([[4, 4096, 1]]), "vary_anywhere": np.array([1])},
         "vary_anywhere flags anywhere row 0 whose bytes are not the varying fit row's"),
        ({"vary": 0, "anywhere": np.array([[4, 4096, 1]]), "vary_anywhere": np.array([1, 0])},
         "vary_anywhere must have shape (1,)")]
    for change, words in bad:
        with pytest.raises(ValueError) as err:
            _core.plan_candidates(**args(**change))
        assert "\n" not in str(err.value) and words in str(err.value), (change, err.value)


def test_dram_bytes_pass_the_levels_behind_an_operand_and_a_kept_output_moves_to_a() -> None:
    """Hand-derived: A at level 0, C at level 1 backed by level 0 (tpu_v1's accumulators behind
    the unified buffer). C's 1-byte pass drained to DRAM crosses level 0 (8 bits written, 8
    read); kept for its consumers it is only written there (moved into A's home); a pass
    re-read from DRAM across K (4 trips) crosses C's level and level 0 three times each way."""
    zero, one = np.zeros(1), np.ones(1)
    rates = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])

    def cycles(rc: int, c_kept: bool) -> tuple[float, float]:
        # levels 0 and 1 separately: each alone as the rate-limited one (the other unbounded)
        out = []
        for slow in (0, 1):
            r = np.full((2, 3), 1e12)
            r[slow] = rates[slow]
            out.append(float(_core.port_cycles_table(
                rates=r, home=(0, 0, 1), rows=np.array([[-1, -1, -1, -1, 0, 0, rc]]),
                a_on_chip=True, trips_m=np.ones(1, dtype=np.int64),
                trips_n=np.ones(1, dtype=np.int64), trips_k=np.array([4]), a_bits=zero,
                b_bits=zero, psum_r=zero, psum_w=zero, a_pass=zero, b_pass=zero, c_pass=one,
                p_pass=one, drain=zero, accumulate=zero,
                chains=np.array([[-1], [-1], [0]]), c_kept=c_kept)[0, 0]))
        return out[0], out[1]

    # any-port rate 1 bit / cycle: a level's cycles = its bits read + written
    assert cycles(0, False) == (16.0, 8.0)  # level 0: the drain passes; level 1: it leaves
    assert cycles(0, True) == (8.0, 8.0)  # moved into level 0: written there only
    spill = 8.0 * 3  # 3 re-reads of a 1-byte pass
    assert cycles(3, False) == (16.0 + 4 * spill, 8.0 + 2 * spill)
