"""Inter-layer reuse (``pysim.mapping.residency.plan_residency``) on hand-built graphs: chains
whose outputs stay on chip, a skip connection evicted before its second consumer, graph
outputs, FIFO eviction, and a zero budget."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pysim.mapping import residency
from pysim.mapping.residency import plan_residency


def _graph(ops: list[tuple[str, tuple[str, ...], int]]):
    """(order, consumers, graph outputs) of ops given as (output, inputs, output bytes)."""
    consumers: dict[str, list[int]] = {}
    for i, (_, ins, _) in enumerate(ops):
        for t in ins:
            consumers.setdefault(t, []).append(i)
    outputs = {out for out, _, _ in ops if out not in consumers}
    return ops, consumers, outputs


CHAIN = [("a", ("x",), 100), ("b", ("a",), 100), ("c", ("b",), 100), ("d", ("c",), 100)]


def test_chain_that_fits_stays_on_chip():
    res = plan_residency(*_graph(CHAIN), budget_bytes=1000)
    assert res.resident_inputs == (frozenset(), frozenset({"a"}), frozenset({"b"}),
                                   frozenset({"c"}))
    # Producers whose consumers all found the tensor resident do not write; d is the output.
    assert res.writes_output == (False, False, False, True)
    # Scratchpad held by kept tensors while each op runs: 0, a, a+b, a+b+c.
    assert res.resident_bytes_during == (0, 100, 200, 300)


def test_chain_with_room_for_one_tensor_still_chains():
    # Budget of exactly one tensor: each output evicts the previous one after its consumer ran.
    res = plan_residency(*_graph(CHAIN), budget_bytes=100)
    assert res.resident_inputs[1:] == (frozenset({"a"}), frozenset({"b"}), frozenset({"c"}))
    assert res.writes_output == (False, False, False, True)
    assert res.resident_bytes_during == (0, 100, 100, 100)


def test_output_larger_than_budget_is_written_and_read_back():
    ops = [("a", ("x",), 100), ("big", ("a",), 500), ("c", ("big",), 100)]
    res = plan_residency(*_graph(ops), budget_bytes=200)
    assert res.resident_inputs == (frozenset(), frozenset({"a"}), frozenset())
    assert res.writes_output == (False, True, True)


def test_skip_connection_evicted_before_second_consumer_is_written():
    # s -> t -> u -> v(u, s): with room for two tensors, u evicts s (FIFO) after op 2, so v
    # must read s from DRAM and s's producer must write it.
    ops = [("s", ("x",), 10), ("t", ("s",), 10), ("u", ("t",), 10), ("v", ("u", "s"), 10)]
    res = plan_residency(*_graph(ops), budget_bytes=20)
    assert res.resident_inputs == (frozenset(), frozenset({"s"}), frozenset({"t"}),
                                   frozenset({"u"}))
    assert res.writes_output == (True, False, False, True)


def test_skip_connection_kept_for_both_consumers_is_not_written():
    ops = [("s", ("x",), 10), ("t", ("s",), 10), ("u", ("t",), 10), ("v", ("u", "s"), 10)]
    res = plan_residency(*_graph(ops), budget_bytes=30)
    assert res.resident_inputs[3] == frozenset({"u", "s"})
    assert res.resident_inputs[1] == frozenset({"s"})
    assert res.writes_output == (False, False, False, True)


def test_graph_outputs_always_written_even_if_consumed_while_resident():
    # "mid" is both consumed by "out" and declared a graph output.
    ops, consumers, outputs = _graph([("mid", ("x",), 10), ("out", ("mid",), 10)])
    res = plan_residency(ops, consumers, outputs | {"mid"}, budget_bytes=1000)
    assert res.resident_inputs[1] == frozenset({"mid"})
    assert res.writes_output == (True, True)


def test_every_sink_is_written():
    # Two branches ending in two graph outputs.
    ops = [("a", ("x",), 10), ("b", ("a",), 10), ("c", ("a",), 10)]
    res = plan_residency(*_graph(ops), budget_bytes=1000)
    assert res.resident_inputs == (frozenset(), frozenset({"a"}), frozenset({"a"}))
    assert res.writes_output == (False, True, True)


def test_zero_budget_keeps_nothing():
    ops = [("s", ("x",), 10), ("t", ("s",), 10), ("u", ("t",), 10), ("v", ("u", "s"), 10)]
    res = plan_residency(*_graph(ops), budget_bytes=0)
    assert res.resident_inputs == (frozenset(),) * 4
    assert res.writes_output == (True,) * 4
    assert res.resident_bytes_during == (0,) * 4


def test_resident_bytes_never_exceed_budget():
    ops = [(f"t{i}", (f"t{i - 1}",) if i else ("x",), 7 + 13 * (i % 5)) for i in range(30)]
    for budget in (0, 10, 50, 100, 1000):
        res = plan_residency(*_graph(ops), budget_bytes=budget)
        assert max(res.resident_bytes_during) <= budget
        # A consumer finding its input on chip implies its producer need not write it.
        for i in range(1, 29):
            if f"t{i - 1}" in res.resident_inputs[i]:
                assert not res.writes_output[i - 1]
            else:
                assert res.writes_output[i - 1]


def test_belady_keeps_the_tensor_read_again_where_fifo_and_lru_evict_it():
    # s is produced at 0 and read at 1 and 3; t at 1, read at 2. Room for two: u arrives at
    # 2 and one must go. FIFO evicts s (oldest); so does LRU (s was last used at step 1, as
    # t was produced then, and s comes first); Belady evicts t (read no more).
    ops = [("s", ("x",), 10), ("t", ("s",), 10), ("u", ("t",), 10), ("v", ("u", "s"), 10)]
    fifo = plan_residency(*_graph(ops), budget_bytes=20, policy="fifo")
    lru = plan_residency(*_graph(ops), budget_bytes=20, policy="lru")
    belady = plan_residency(*_graph(ops), budget_bytes=20, policy="belady")
    assert fifo.resident_inputs[3] == lru.resident_inputs[3] == frozenset({"u"})
    assert belady.resident_inputs[3] == frozenset({"u", "s"})
    assert belady.writes_output == (False, False, False, True)


def test_lru_refreshes_a_tensor_on_each_read():
    # a is read at every step; b, c, d pass through. Room for two: FIFO evicts a when c
    # arrives (a is oldest); LRU keeps a, just read, and evicts b.
    ops = [("a", ("x",), 10), ("b", ("a",), 10), ("c", ("b", "a"), 10), ("d", ("c", "a"), 10)]
    fifo = plan_residency(*_graph(ops), budget_bytes=20, policy="fifo")
    lru = plan_residency(*_graph(ops), budget_bytes=20, policy="lru")
    assert "a" not in fifo.resident_inputs[3] and fifo.writes_output[0]
    assert lru.resident_inputs[3] == frozenset({"c", "a"}) and not lru.writes_output[0]


def test_belady_does_not_keep_an_output_read_later_than_what_it_would_evict():
    # b is read at step 3, far; room for one tensor, held by a (read at step 2, sooner):
    # Belady keeps a and lets b go to DRAM, FIFO evicts a for b
    ops = [("a", ("x",), 10), ("b", ("x",), 10), ("c", ("a",), 10), ("d", ("b", "c"), 10)]
    fifo = plan_residency(*_graph(ops), budget_bytes=10, policy="fifo")
    belady = plan_residency(*_graph(ops), budget_bytes=10, policy="belady")
    assert fifo.resident_inputs[2] == frozenset() and fifo.writes_output[0]
    assert belady.resident_inputs[2] == frozenset({"a"}) and belady.writes_output[1]


def test_an_unknown_policy_is_refused():
    import pytest

    with pytest.raises(ValueError, match="policy must be one of fifo, lru, belady, got 'mru'"):
        plan_residency(*_graph(CHAIN), budget_bytes=100, policy="mru")  # type: ignore[arg-type]


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(st.lists(st.tuples(st.lists(st.integers(0, 10**6), max_size=3),
                          st.sampled_from([0, 5, 10, 20, 40])), min_size=1, max_size=30),
       st.integers(0, 100))
def test_belady_by_heap_evicts_what_sorting_at_each_eviction_does(raw, budget) -> None:
    # sizes from few values: ties in next reads and sizes everywhere
    ops = [(f"t{i}", tuple(f"t{j % i}" for j in ins) if i else (), size)
           for i, (ins, size) in enumerate(raw)]
    graph = _graph(ops)
    heap = residency._plan(*graph, budget, "belady", belady_heap=True)
    assert heap == residency._plan(*graph, budget, "belady", belady_heap=False)
    assert heap == plan_residency(*graph, budget_bytes=budget, policy="belady")


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.lists(st.integers(0, 10**6), max_size=3),
                          st.sampled_from([0, 5, 10, 20, 40])), min_size=1, max_size=30),
       st.integers(0, 100), st.sampled_from(residency.POLICIES))
def test_online_traffic_is_the_plans_traffic(raw, budget, policy) -> None:
    from pysim.mapping.planned_residency import _traffic

    ops = [(f"t{i}", tuple(f"t{j % i}" for j in ins) if i else (), size)
           for i, (ins, size) in enumerate(raw)]
    order, consumers, outputs = _graph(ops)
    plan = plan_residency(order, consumers, outputs, budget_bytes=budget, policy=policy)
    assert residency.online_traffic(order, consumers, outputs, budget, policy) == \
        _traffic(tuple(order), frozenset(outputs), plan)
