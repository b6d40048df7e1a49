"""Gradient accumulation (pysim.training.step(..., grad_accum=K)): one micro batch is the
step exactly; the micro batches' graphs (the first writes its gradients, the later ones add
theirs, the last updates); the step's figures are the micro batches' sums, a middle one
standing for K - 2; the link carries gradients once under DDP and ZeRO 1, every micro batch
under ZeRO 2-3; the saved activations are one micro batch's; sweeps, schedules and the CLI
see the whole step; bad input names the field."""

from __future__ import annotations

import pytest

import pysim
from pysim import training
from pysim.errors import ConfigError
from pysim.training.graph import build_training_graph
from pysim.training.step import check_options, micro_plan
from tests.one_line import one_line
from tests.test_training_data_parallel import NPU, linked, mlp

A100 = pysim.gpu.preset("a100")
GPT2 = pysim.zoo.load("gpt2", batch=2, seq_len=512, attention="flash")


def test_one_micro_batch_is_the_step_exactly():
    base = training.step(A100, "resnet18", "adam", "mixed_bf16")
    one = training.step(A100, "resnet18", "adam", "mixed_bf16", grad_accum=1)
    assert one.earlier == () and one.grad_accum == 1
    assert one.summary() == base.summary() and one.memory == base.memory
    assert one.runs() == ((one.result, 1),)


@pytest.mark.parametrize("k,plan", [(1, (("only", 1),)), (2, (("first", 1), ("last", 1))),
                                    (7, (("first", 1), ("middle", 5), ("last", 1)))])
def test_the_plan_stands_for_every_micro_batch(k, plan):
    assert micro_plan(k) == plan and sum(n for _, n in plan) == k


def test_micro_batch_graphs_write_add_and_update():
    wl = pysim.zoo.load("bert_base", seq_len=64)
    r, o = training.get_recipe("mixed_bf16"), training.get_optimizer("adam")
    g = {m: build_training_graph(wl, r, {}, o, micro=m)
         for m in ("only", "first", "middle", "last")}
    roles = {m: [op.role for op in x.ops] for m, x in g.items()}
    grads = sum(len(v) for v in g["only"].update_grads.values())
    assert roles["only"].count("grad_accum") == roles["first"].count("grad_accum") == 0
    assert roles["middle"].count("grad_accum") == roles["last"].count("grad_accum") == grads
    assert "optimizer" in roles["only"] and "optimizer" in roles["last"]
    assert "optimizer" not in roles["first"] and "optimizer" not in roles["middle"]
    # the same MACs each micro batch; the update reads the accumulated gradients
    assert len({x.workload.macs for x in g.values()}) == 1
    last = g["last"].workload
    for layer, ts in g["last"].update_grads.items():
        for t in ts:
            src = last.op(last.producers[t])
            while src.type != "vector_work" or "accumulation" not in src.what:
                src = last.op(last.producers[src.inputs[0]])  # through a cast
            assert src.in_place and src.inputs[1].endswith(".accumulated"), layer
    # each add follows its gradient at once (PyTorch's AccumulateGrad), not at the end
    names = [op.name for op in last.ops]
    for op in last.ops:
        if op.name.endswith(".accum"):
            assert names.index(op.name) == names.index(last.producers[op.inputs[0]]) + 1 or \
                last.op(names[names.index(op.name) - 1]).name.endswith(".accum")


@pytest.mark.parametrize("hw,wl,recipe", [(A100, GPT2, "mixed_bf16"),
                                          (NPU, mlp(), "int8")])
def test_the_step_sums_its_micro_batches(hw, wl, recipe):
    one = training.step(hw, wl, "adam", recipe)
    four = training.step(hw, wl, "adam", recipe, grad_accum=4)
    five = training.step(hw, wl, "adam", recipe, grad_accum=5)
    assert [m.count for m in four.micro_batches()] == [1, 2, 1]
    assert four.grad_accum == 4 and five.grad_accum == 5
    assert four.macs == 4 * one.macs
    assert four.macs_by_role() == {k: 4 * v for k, v in one.macs_by_role().items()}
    middle = four.earlier[1].result
    assert five.latency_s == pytest.approx(four.latency_s + middle.latency_s, rel=1e-12)
    assert five.energy_j == pytest.approx(four.energy_j + middle.energy_j, rel=1e-12)
    # K passes and one update: between K passes without their updates and K whole steps
    # plus the adds
    upd = one.time_by_phase_s()["optimizer"]
    phases = four.time_by_phase_s()
    # one update, not four (on an accelerator its inputs' residency may differ: the adds
    # leave other gradients on chip)
    assert 0.5 * upd < phases["optimizer"] < 1.5 * upd
    assert phases["forward"] == pytest.approx(4 * one.time_by_phase_s()["forward"], rel=1e-9)
    adds = sum(m.count * m.result.layers["op"].str.endswith(".accum").sum()
               for m in four.micro_batches())
    assert adds == 3 * sum(len(v) for v in one.graph.update_grads.values())
    assert 4 * (one.latency_s - upd) < four.latency_s < 4 * one.latency_s + 3 * phases.get(
        "backward", 0)
    s = four.summary()
    assert s["grad_accum"] == 4 and s["macs"] == four.macs
    assert s["dram_read_bytes"] == sum(c * r.dram_read_bytes for r, c in four.runs())


def test_saved_activations_are_one_micro_batchs():
    one = training.step(A100, GPT2, "adam", "mixed_bf16")
    accum = training.step(A100, GPT2, "adam", "mixed_bf16", grad_accum=4)
    big = training.step(A100, pysim.zoo.load("gpt2", batch=8, seq_len=512, attention="flash"),
                        "adam", "mixed_bf16")
    assert accum.memory.saved_activations == one.memory.saved_activations
    assert accum.memory.peak < big.memory.peak  # the reason to accumulate
    assert accum.macs == big.macs


@pytest.mark.parametrize("stage,link_runs", [(0, 1), (1, 1), (2, 3), (3, 3)])
def test_gradients_cross_the_link_once_or_every_micro_batch(stage, link_runs):
    one = training.step(A100, GPT2, "adam", "mixed_bf16", data_parallel=4, zero_stage=stage)
    acc = training.step(A100, GPT2, "adam", "mixed_bf16", data_parallel=4, zero_stage=stage,
                        grad_accum=3)
    busy = [bool(r.collectives) for r, _ in acc.runs()]
    assert sum(busy) == link_runs and busy[-1]
    d1, d3 = one.data_parallel, acc.data_parallel
    if stage < 2:  # no_sync: the accumulated gradients reduced once
        assert d3.comm_bytes_per_device == pytest.approx(d1.comm_bytes_per_device)
    elif stage == 2:  # reduce-scattered each micro batch, the parameters gathered once
        scatter = sum(c.nbytes for c in d1.timings if c.name.startswith("reduce_scatter"))
        assert d3.comm_bytes_per_device == pytest.approx(d1.comm_bytes_per_device
                                                         + 2 * scatter)
    else:  # every transfer each micro batch
        assert d3.comm_bytes_per_device == pytest.approx(3 * d1.comm_bytes_per_device)
    assert d3.comm_s > 0 and d3.exposed_comm_s >= 0


def test_zero_2_and_3_accumulate_their_partition():
    acc = training.step(A100, GPT2, "adam", "mixed_bf16", data_parallel=4, zero_stage=2,
                        grad_accum=2)
    adds = [op for op in acc.graph.workload.ops if op.name.endswith(".accum")]
    assert adds and all(op.read_share == pytest.approx(1 / 4) for op in adds)
    ddp = training.step(A100, GPT2, "adam", "mixed_bf16", data_parallel=4, grad_accum=2)
    assert all(op.read_share == 1 for op in ddp.graph.workload.ops
               if op.name.endswith(".accum"))


def test_sweeps_and_schedules_see_the_whole_step():
    opts = {"optimizer": "sgd", "recipe": "int8", "grad_accum": 3}
    hw = linked(NPU, 10.0)
    wl = mlp()
    s = training.step(hw, wl, **opts)
    df = pysim.sweep(hw, wl, {"clock_ghz": [hw.clock_ghz]}, training=opts)
    row = df.iloc[0]
    assert row["error"] is None or row["error"] != row["error"]
    assert row["latency_s"] == pytest.approx(s.latency_s, rel=1e-12)
    assert row["energy_j"] == pytest.approx(s.energy_j, rel=1e-12)
    assert row["macs"] == s.macs
    assert row["dram_bytes"] == sum(c * r.dram_bytes for r, c in s.runs())
    report = training.run(hw, wl, epochs=2, steps_per_epoch=5, **opts)
    assert report.epochs["time_s"].iloc[0] == pytest.approx(5 * s.latency_s)


def test_an_unknown_micro_batch_kind_is_named():
    one_line(lambda: build_training_graph(GPT2, training.get_recipe("fp32"), {},
                                          training.get_optimizer("sgd"), micro="second"),
             "micro", "'second'", "first", error=pysim.errors.WorkloadError)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, None, 70000])
def test_bad_grad_accum_is_one_line_naming_it(bad):
    one_line(lambda: training.step(A100, "resnet18", grad_accum=bad), "grad_accum",
             repr(bad), error=ConfigError)
    one_line(lambda: check_options(pysim.zoo.load("resnet18", batchnorm=True),
                                   {"grad_accum": bad}), "grad_accum", error=ConfigError)


def test_cli_train_grad_accum(capsys):
    from pysim.cli import main

    assert main(["train", "gpu:a100", "gpt2", "--grad-accum", "4"]) == 0
    assert "grad_accum 4" in " ".join(capsys.readouterr().out.split())
    assert main(["train", "gpu:a100", "gpt2", "--grad-accum", "0"]) == 2
    assert "grad_accum" in capsys.readouterr().err
