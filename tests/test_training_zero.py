"""ZeRO stages in data-parallel training (pysim.training.step(..., zero_stage=S)): one device
is the single-device step exactly; each stage's memory partitions what Rajbhandari et al.
(SC 2020, section 5) say it does; the bytes each device sends (the paper's 2 Psi and 3 Psi,
section 7); the optimizer updates one partition; stage 3's gathers precede their units' ops
and at most two units are gathered at once; deeper stages never hold more model state; bad
input names the field."""

from __future__ import annotations

import math

import pytest

import pysim
from pysim import training
from pysim.errors import ConfigError
from pysim.training import data_parallel as dp
from pysim.training.step import check_options, param_bytes
from tests.one_line import one_line
from tests.test_training_data_parallel import NPU, linked, mlp

A100 = pysim.gpu.preset("a100")
NPU_LINKED = linked(NPU, 10.0)
# the paper's accounting: fp16 parameters and gradients, fp32 master weights and Adam states
PAPER = {"optimizer": "adam", "recipe": "mixed_fp16", "formats": {"weight_grad": "fp16"}}


def state_bytes(s: training.TrainingStep) -> int:
    """The model states ZeRO partitions: parameters, gradients, optimizer states."""
    m = s.memory
    return m.master_weights + m.weight_copies + m.weight_grads + m.optimizer_states


@pytest.mark.parametrize("stage", [1, 2, 3])
@pytest.mark.parametrize("hw,wl,recipe", [(A100, "resnet18", "mixed_bf16"),
                                          (NPU, mlp(), "int8")])
def test_one_device_is_the_single_device_step_exactly(hw, wl, recipe, stage):
    base = training.step(hw, wl, "adam", recipe)
    one = training.step(hw, wl, "adam", recipe, data_parallel=1, zero_stage=stage)
    assert one.data_parallel is None and one.result.collectives == ()
    assert one.memory == base.memory
    assert one.summary() == base.summary()
    assert one.result.layers[["op", "end_cycle"]].equals(base.result.layers[["op", "end_cycle"]])


@pytest.mark.parametrize("n", [2, 8, 64])
def test_each_stage_partitions_what_the_paper_says(n):
    """Per device, in the paper's terms (Psi parameters, K = 12 bytes of optimizer state):
    baseline (2 + 2 + K) Psi; P_os 2 Psi + 2 Psi + K Psi / n; P_os+g 2 Psi + (2 + K) Psi / n;
    P_os+g+p (2 + 2 + K) Psi / n. A layer the forward reads in its master format (no copy:
    a layer norm's gamma here) holds its 4-byte master as its parameter: partitioned by stage
    3 only."""
    wl = pysim.zoo.load("bert_base")
    steps = {s: training.step(A100, wl, data_parallel=n, zero_stage=s, **PAPER)
             for s in (0, 1, 2, 3)}
    g = steps[0].graph
    copied = sum(c for layer, c in g.params.items() if layer in g.copied)
    plain = sum(c for layer, c in g.params.items() if layer not in g.copied)
    assert copied > 50 * plain > 0

    def per_device(stage: int) -> float:
        def part(nbytes: float, from_stage: int) -> float:
            return nbytes / n if stage >= from_stage else nbytes
        # what the forward reads: the fp16 copies of the weight matrices (graph.py counts no
        # copy of a bias: 0.1 % of BERT-base's parameters), the plain layers' masters
        return (part(g.weight_copy_bytes, 3) + part(4 * plain, 3)
                + part(2 * (copied + plain), 2)  # fp16 gradients
                + part(4 * copied, 1)  # the optimizer's own fp32 master weights
                + part(8 * (copied + plain), 1))  # Adam's two fp32 states
    for stage, s in steps.items():
        # each part rounded up to whole bytes per device
        assert state_bytes(s) == pytest.approx(per_device(stage), abs=8)
    psi = copied + plain
    assert state_bytes(steps[0]) / psi == pytest.approx(16, rel=2e-3)
    assert state_bytes(steps[3]) / psi == pytest.approx(16 / n, rel=2e-3)


@pytest.mark.parametrize("n", [2, 8])
def test_bytes_sent_are_the_papers_2_psi_and_3_psi(n):
    """Section 7: stages 1 and 2 send what DDP's all-reduce does (a reduce-scatter of the
    gradients, an all-gather of the parameters); stage 3 half as much again (the parameters
    gathered twice)."""
    runs = {s: training.step(A100, "gpt2", data_parallel=n, zero_stage=s, **PAPER)
            for s in (0, 1, 2, 3)}
    grads = runs[0].data_parallel.grad_bytes
    share = (n - 1) / n
    for stage, s in runs.items():
        params = sum(param_bytes(s.graph, s.recipe, {}).values())
        sent = s.data_parallel.comm_bytes_per_device
        expected = {0: 2 * grads, 1: grads + params, 2: grads + params,
                    3: grads + 2 * params}[stage]
        assert sent == pytest.approx(share * expected)
    psi_bytes = 2 * sum(runs[0].graph.params.values())
    assert runs[1].data_parallel.comm_bytes_per_device / (share * psi_bytes) == \
        pytest.approx(2, rel=2e-3)
    assert runs[3].data_parallel.comm_bytes_per_device / (share * psi_bytes) == \
        pytest.approx(3, rel=2e-3)


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_the_update_runs_on_one_partition(stage):
    whole = training.step(A100, "bert_base", "adam", "mixed_bf16", data_parallel=8)
    part = training.step(A100, "bert_base", "adam", "mixed_bf16", data_parallel=8,
                         zero_stage=stage)
    upd = {o.name for o in part.graph.ops if o.role == "optimizer"}
    (name,) = upd
    w, p = whole.graph.workload.op(name), part.graph.workload.op(name)
    assert p.read_share == pytest.approx(1 / 8) and w.read_share == 1
    assert p.rows == math.ceil(w.rows / 8)

    def moved(s: training.TrainingStep) -> int:
        row = s.result.layers.set_index("op").loc[name]
        return int(row["dram_read_bytes"] + row["dram_write_bytes"])
    assert moved(part) == pytest.approx(moved(whole) / 8, rel=0.01)
    assert part.time_by_phase_s()["optimizer"] < whole.time_by_phase_s()["optimizer"] / 4


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_deeper_stages_never_hold_more_model_state(stage):
    runs = [training.step(A100, "resnet18", "adam", "mixed_bf16", data_parallel=4, zero_stage=s)
            for s in range(stage + 1)]
    states = [state_bytes(s) for s in runs]
    assert states == sorted(states, reverse=True)
    if stage < 3:  # stage 3 holds two gathered units beside a smaller state
        peaks = [s.memory.peak for s in runs]
        assert peaks == sorted(peaks, reverse=True)


@pytest.mark.parametrize("wl,checkpoint", [("resnet18", False), ("bert_base", True),
                                           ("gpt2", False)])
def test_stage3_gathers_each_unit_before_its_ops_two_at_most(wl, checkpoint):
    s = training.step(A100, wl, "adam", "mixed_bf16", data_parallel=4, zero_stage=3,
                      checkpoint=checkpoint, bucket_mib=4)
    d = s.data_parallel
    timings = {t.name: t for t in d.timings}
    units = len(d.buckets)
    assert len(timings) == 3 * units  # gathered twice, scattered once each
    layers = s.result.layers.set_index("op")
    info = {o.name: o for o in s.graph.ops}
    unit_of = {layer: u for u, b in enumerate(d.buckets) for layer in b.layers}
    for u in range(units):
        fwd = [n for n, o in info.items() if unit_of.get(o.layer) == u and o.phase == "forward"]
        gathered = timings[f"all_gather.forward.unit{u}"]
        assert all(layers.loc[n, "start_cycle"] >= gathered.end_cycle - 1e-6 for n in fwd)
        scattered = timings[f"reduce_scatter.bucket{u}"]
        dws = [n for n in d.buckets[u].producers]
        assert scattered.start_cycle >= max(layers.loc[n, "end_cycle"] for n in dws) - 1e-6
    # the forward gathers run in layer order, unit k's once unit k - 2's ops have ended
    order = list(reversed(range(units)))
    for k in range(2, units):
        u, earlier = order[k], order[k - 2]
        ops = [n for n, o in info.items()
               if unit_of.get(o.layer) == earlier and o.phase == "forward"]
        first = min(layers.loc[n, "start_cycle"]
                    for n, o in info.items() if unit_of.get(o.layer) == u
                    and o.phase == "forward") if any(
            unit_of.get(o.layer) == u and o.phase == "forward" for o in info.values()) else None
        ready = timings[f"all_gather.forward.unit{u}"].ready_cycle
        before_first = [n for n in ops if first is None
                        or layers.loc[n, "start_cycle"] < first]
        if before_first:
            assert ready >= max(layers.loc[n, "end_cycle"] for n in before_first) - 1e-6


def test_stage3_memory_holds_two_gathered_units():
    s = training.step(A100, "resnet18", "adam", "mixed_bf16", data_parallel=4, zero_stage=3,
                      bucket_mib=4)
    params = param_bytes(s.graph, s.recipe, {})
    units = sorted(sum(params[layer] for layer in b.layers) for b in s.data_parallel.buckets)
    largest = max(b.nbytes for b in s.data_parallel.buckets)
    assert s.memory.comm_buffers == largest + units[-1] + units[-2]


def test_stages_1_and_2_end_with_the_parameters_gathered():
    s = training.step(A100, "bert_base", "adam", "mixed_bf16", data_parallel=8, zero_stage=1)
    last = max(t.end_cycle for t in s.data_parallel.timings)
    assert s.result.latency_cycles == pytest.approx(last)
    names = [t.name for t in s.data_parallel.timings]
    assert names[-1].startswith("all_gather") and names[0].startswith("reduce_scatter")
    assert s.data_parallel.exposed_comm_s > 0


def test_sharded_graph_round_trips_through_yaml(tmp_path):
    s = training.step(A100, "bert_base", "adam", "mixed_bf16", data_parallel=8, zero_stage=2)
    path = tmp_path / "g.yaml"
    pysim.workload.dump_workload(s.graph.workload, path)
    back = pysim.load_workload(path)
    assert [o.model_dump() for o in back.ops] == [o.model_dump() for o in s.graph.workload.ops]


def test_sixteen_bit_gradients_beside_fp32_masters():
    """The update reads each input at its own width (it refused bf16 gradients beside the
    fp32 master weights it updates)."""
    s = training.step(A100, "bert_base", "adamw", "mixed_bf16", formats={"weight_grad": "bf16"})
    (upd,) = [o for o in s.graph.workload.ops if o.name.endswith(".update")]
    assert set(upd.in_bits) == {16, 32}
    assert s.memory.weight_grads == 2 * sum(s.graph.params.values())


def test_accelerator_with_a_link_runs_every_stage():
    for stage in (0, 1, 2, 3):
        s = training.step(NPU_LINKED, mlp(), "sgd", "int8", data_parallel=2, zero_stage=stage)
        assert s.latency_s > 0 and s.data_parallel.zero_stage == stage


@pytest.mark.parametrize("bad", [4, -1, 1.5, "3", True, None])
def test_bad_zero_stage_is_one_line_naming_it(bad):
    one_line(lambda: training.step(A100, "resnet18", data_parallel=2, zero_stage=bad),
             "zero_stage", "0, 1, 2, 3", repr(bad), error=ConfigError)
    one_line(lambda: training.step(A100, "resnet18", zero_stage=bad),  # on one device too
             "zero_stage", error=ConfigError)
    one_line(lambda: check_options(pysim.zoo.load("resnet18", batchnorm=True),
                                   {"zero_stage": bad}), "zero_stage", error=ConfigError)
    one_line(lambda: dp.check_zero_stage(bad), "zero_stage", error=ConfigError)


def test_overflow_suggests_zero():
    one_line(lambda: training.step(A100, "gpt2:batch=64", memory_gib=1.0), "zero_stage",
             "data_parallel", error=pysim.errors.WorkloadError)


def test_cli_train_zero_stage(capsys):
    from pysim.cli import main

    assert main(["train", "gpu:a100", "gpt2", "--data-parallel", "8", "--zero-stage", "3"]) == 0
    out = capsys.readouterr().out
    assert "zero_stage 3" in " ".join(out.split())
    with pytest.raises(SystemExit) as e:  # argparse's choices: exit 2, naming the flag
        main(["train", "gpu:a100", "gpt2", "--data-parallel", "8", "--zero-stage", "4"])
    assert e.value.code == 2 and "--zero-stage" in capsys.readouterr().err
