"""Training graphs: GEMM shapes per role, the 3x FLOP identity, memory hand-checked on a tiny
MLP, checkpointing's memory / compute trade, format ordering, schedules (pysim.training)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import training
from pysim.training.graph import build_training_graph
from pysim.training.ops import AttentionBackward, WeightGrad
from pysim.workload import Conv2d, Elementwise, Gemm, Matmul, Workload
from pysim.workload.attention import Attention

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def mlp(m: int = 4, k: int = 8, h: int = 16, n: int = 2) -> Workload:
    return Workload("mlp", [
        Gemm(name="fc1", inputs=("x",), m=m, k=k, n=h, bias=True),
        Elementwise(name="relu", op="relu", inputs=("fc1",), shape=(m, h)),
        Gemm(name="fc2", inputs=("relu",), m=m, k=h, n=n),
    ], [{"name": "x", "shape": (m, k), "bits": 8}])


def graph(wl: Workload, recipe: str = "fp32", optimizer: str = "adam", **kw):
    return build_training_graph(wl, training.get_recipe(recipe), {},
                                training.get_optimizer(optimizer), **kw)


def op(g, name: str):
    return g.workload.op(name)


# -- shapes of the backward GEMMs, against NumPy's ------------------------------------------

def test_gemm_backward_shapes_match_numpy():
    g = graph(mlp(), input_grads=True)
    rng = np.random.default_rng(0)
    x, w, dy = rng.normal(size=(4, 8)), rng.normal(size=(8, 16)), rng.normal(size=(4, 16))
    dx, dw = dy @ w.T, x.T @ dy  # the chain rule for Y = X W
    assert op(g, "fc1.dX").output_shape == dx.shape
    # dW and, after it, the bias gradient (the column sums of dY) in one tensor
    assert op(g, "fc1.dW").output_shape == np.vstack([dw, dy.sum(0)]).shape
    assert op(g, "fc1.dX").gemm_view() == (1, 4, 8, 16)
    assert op(g, "fc1.dW").gemm_view() == (1, 8, 16, 4)


def _im2col(x: np.ndarray, kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    b, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    cols = [xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :].reshape(b, -1)
            for i in range(oh) for j in range(ow)]
    return np.stack(cols, 1).reshape(b * oh * ow, kh * kw * c)


@pytest.mark.parametrize("stride,groups", [(2, 1), (2, 2), (1, 2)])
def test_strided_and_grouped_conv_backward_gemms(stride, groups):
    conv = Conv2d(name="conv", inputs=("x",), batch=2, in_h=9, in_w=9, in_c=4, out_c=6,
                  kernel=3, stride=stride, padding=1, groups=groups)
    wl = Workload("c", [conv], [{"name": "x", "shape": (2, 9, 9, 4), "bits": 8}])
    g = graph(wl, input_grads=True)
    m, n, k = 2 * conv.out_h * conv.out_w, 6 // groups, 9 * 4 // groups
    assert conv.gemm_view() == (groups, m, n, k)
    # dW per group: (K x M) @ (M x N); the patch matrix is NumPy's im2col of X
    x = np.zeros((2, 9, 9, 4))
    cols = _im2col(x[..., : 4 // groups], 3, 3, stride, 1)
    assert cols.shape == (m, k)
    assert op(g, "conv.dW").gemm_view() == (groups, k, n, m)
    dx_op = g.workload.op("conv.dX")
    if stride == 1:  # 'same' stride-1: the transposed convolution, dY -> X's shape
        assert isinstance(dx_op, Conv2d) and dx_op.padding == (1, 1)
        assert dx_op.output_shape == (2, 9, 9, 4)
    else:  # GEMM form dY W^T per group, then col2im back to X's shape
        assert op(g, "conv.dX.cols").gemm_view() == (groups, m, k, n)
        assert dx_op.output_shape == x.shape
    assert g.macs("dX") == g.macs("dW") == conv.macs


def test_matmul_backward_shapes():
    wl = Workload("mm", [
        Gemm(name="a", inputs=("x",), m=6, k=4, n=4),
        Gemm(name="b", inputs=("y",), m=8, k=4, n=5),
        Matmul(name="mm", inputs=("a", "b"), batch=(2,), m=3, k=4, n=5),
    ], [{"name": "x", "shape": (6, 4), "bits": 8}, {"name": "y", "shape": (8, 4), "bits": 8}])
    g = graph(wl)
    a, b = np.zeros((2, 3, 4)), np.zeros((2, 4, 5))
    dy = a @ b
    assert op(g, "mm.dA").gemm_view() == (2, 3, 4, 5)  # dY B^T
    assert op(g, "mm.dB").gemm_view() == (2, 4, 5, 3)  # A^T dY
    assert (2, *op(g, "mm.dA").output_shape[-2:]) == (dy @ b.transpose(0, 2, 1)).shape
    assert op(g, "mm.dB").output_shape == (a.transpose(0, 2, 1) @ dy).shape


def test_attention_backward_is_five_forward_gemms():
    att = Attention(name="att", inputs=("q", "k", "v"), batch=2, heads=4, q_len=16,
                    kv_len=16, head_dim=8, causal=True)
    wl = Workload("att", [
        *(Gemm(name=n, inputs=("x",), m=32, k=32, n=32) for n in "qkv"), att],
        [{"name": "x", "shape": (32, 32), "bits": 8}])
    g = graph(wl)
    bwd = op(g, "att.bwd")
    assert isinstance(bwd, AttentionBackward)
    assert bwd.macs == 5 * att.batch * att.heads * att.pairs * att.head_dim
    assert "att.lse" in g.saved and g.saved["att.lse"] == 2 * 4 * 16 * 4  # fp32 per query


# -- the 3x identity ---------------------------------------------------------------------------

def test_gemm_only_net_costs_three_forward_passes():
    wl = mlp()
    g = graph(wl, input_grads=True)
    assert g.macs("forward", "forward") == wl.macs == 4 * 8 * 16 + 4 * 16 * 2
    assert g.macs("dX") == g.macs("dW") == wl.macs
    assert g.workload.macs == 3 * wl.macs
    # without the graph input's gradient, the first layer's dX is skipped
    assert graph(wl).macs("dX") == wl.macs - 4 * 8 * 16


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(5, 12), st.integers(1, 8), st.integers(1, 3),
       st.integers(1, 3), st.integers(0, 1), st.sampled_from([1, 2]))
def test_conv_training_macs_are_three_forward(batch, size, c, kernel, stride, pad, groups):
    if size + 2 * pad < kernel:
        return
    conv = Conv2d(name="conv", inputs=("x",), batch=batch, in_h=size, in_w=size,
                  in_c=2 * c, out_c=2 * c + 2, kernel=kernel, stride=stride, padding=pad,
                  groups=groups)
    wl = Workload("c", [conv], [{"name": "x", "shape": conv.input_shapes()[0], "bits": 8}])
    g = graph(wl, input_grads=True)
    assert g.workload.macs == 3 * conv.macs
    assert g.workload.op("conv.dX").output_shape == conv.input_shapes()[0]


def test_zoo_models_build_with_every_mac_role():
    for name in ("resnet18", "bert_base", "mobilenet_v2"):
        wl = pysim.zoo.load(name)
        g = graph(wl, "mixed_bf16")
        assert g.macs("dW") == sum(o.macs for o in wl.ops if o.weight_tensors()
                                   and o.runs_on == "mac")
        assert g.macs("forward", "forward") == wl.macs


# -- memory ----------------------------------------------------------------------------------

def test_memory_of_tiny_mlp_by_hand():
    s = training.step(pysim.gpu.preset("a100"), mlp(), "adam", "fp32")
    mem = s.memory
    params = (8 * 16 + 16) + 16 * 2
    assert mem.master_weights == 4 * params
    assert mem.weight_grads == 4 * params
    assert mem.optimizer_states == 2 * 4 * params
    assert mem.weight_copies == 0  # fp32 GEMMs read the master weights
    # saved: fc1's input X (4x8) and relu's output (= fc2's input, kept once), fp32
    assert mem.saved_activations == 4 * (4 * 8) + 4 * (4 * 16)
    # working: relu's backward reads its saved output and dY and writes dX (4x16 each, fp32);
    # the weights, states and gradients count once, in persistent memory, and the update
    # writes them in place
    assert mem.working == 3 * 4 * (4 * 16)
    assert mem.peak == mem.persistent + mem.saved_activations + mem.working
    assert mem.capacity == 80 * 2**30


def test_mixed_precision_keeps_master_weights_and_a_low_precision_copy():
    mem = training.step(pysim.gpu.preset("a100"), mlp(), "sgd", "mixed_bf16").memory
    params = (8 * 16 + 16) + 16 * 2
    assert mem.master_weights == 4 * params
    assert mem.weight_copies == 2 * (8 * 16 + 16 * 2)  # bf16 copies of the weight matrices
    assert mem.optimizer_states == 0


def test_checkpointing_lowers_peak_and_raises_compute():
    wl = pysim.zoo.load("bert_base", seq_len=64)
    hw = pysim.gpu.preset("h100")
    plain = training.step(hw, wl, recipe="mixed_bf16")
    ckpt = training.step(hw, wl, recipe="mixed_bf16", checkpoint=True)
    assert ckpt.memory.saved_activations < plain.memory.saved_activations
    assert ckpt.memory.peak < plain.memory.peak
    assert ckpt.macs_by_role()["recompute"] == wl.macs
    assert ckpt.macs > plain.macs
    assert ckpt.latency_s > plain.latency_s


def test_overflow_is_one_line_naming_the_parts():
    with pytest.raises(pysim.WorkloadError) as err:
        training.step(pysim.gpu.preset("a100"), mlp(), memory_gib=1e-6)
    text = str(err.value)
    assert "\n" not in text and "saved activations" in text and "GiB" in text


def test_capacity_comes_from_the_dram_of_any_hardware():
    """A GPU's YAML (configs/gpu/*.yaml) holds its HBM as ``dram.capacity_gib``, as
    ``simulate``'s capacity check reads it: its training step is checked against the same 80
    GiB as the preset's (it was unchecked), and so is an accelerator config that states one."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    yaml = training.step(str(root / "configs" / "gpu" / "h100.yaml"), mlp())
    preset = training.step(pysim.gpu.preset("h100"), mlp())
    assert yaml.memory.capacity == preset.memory.capacity == 80 * 2**30
    tpu = pysim.load_hardware(root / "configs" / "tpu_v1.yaml")
    assert training.step(tpu, mlp(), recipe="int8").memory.capacity is None
    small = tpu.with_overrides({"dram.capacity_gib": 1e-6})
    with pytest.raises(pysim.WorkloadError, match="tpu_v1 has 0.00 GiB"):
        training.step(small, mlp(), recipe="int8")


# -- formats -----------------------------------------------------------------------------------

def test_fp8_recipe_formats_per_role():
    g = graph(mlp(), "fp8")
    by = {o.name: o for o in g.ops}
    assert by["fc1"].format == "fp8_e4m3" and by["fc2.dX"].format == "fp8_e5m2xfp8_e4m3"
    assert op(g, "fc2.dX").act_bits == 8 and op(g, "fc2").dtype == "float"
    assert "x.to_fp8_e4m3" in by and by["x.to_fp8_e4m3"].role == "cast"
    # the fp8 weight copy: written by the update (default), or cast before the forward GEMM
    assert "fc1.weight_cast" not in by and "low-precision weights" in op(g, "params.update").what
    autocast = {o.name: o for o in graph(mlp(), "fp8", weight_copy="forward").ops}
    assert autocast["fc1.weight_cast"].role == "weight_cast"


def test_fp4_recipe_has_stochastic_rounding_and_hadamard():
    g = graph(mlp(), "fp4")
    roles = {o.role for o in g.ops}
    assert "hadamard" in roles
    cast = op(g, "loss.fc2.to_fp4_e2m1")  # the gradient cast rounds stochastically: 1 op more
    assert cast.ops_per_element == 4


def test_narrower_formats_are_never_slower():
    wl = Workload("big", [Gemm(name=f"fc{i}", inputs=(f"fc{i - 1}" if i else "x",), m=2048,
                               k=2048, n=2048) for i in range(3)],
                  [{"name": "x", "shape": (2048, 2048), "bits": 8}])
    hw = pysim.gpu.preset("h100")
    times = [training.step(hw, wl, "sgd", r).latency_s for r in ("fp32", "mixed_bf16", "fp8")]
    assert times[0] >= times[1] >= times[2]


def test_layer_formats_change_one_layer():
    hw = pysim.load_hardware("configs/lowp_edge.yaml")
    wide = training.step(hw, mlp(), "sgd", "int8")
    narrow = training.step(hw, mlp(), "sgd", "int8", layer_formats={"fc1": 4})
    assert {o.format for o in narrow.graph.ops if o.layer == "fc1" and o.role == "dW"} == \
        {"fixed4"}
    assert narrow.latency_s <= wide.latency_s


# -- schedules ---------------------------------------------------------------------------------

def test_run_follows_the_schedule():
    hw = pysim.load_hardware("configs/lowp_edge.yaml")
    wl = pysim.zoo.load("gemm", m=64, n=64, k=64)
    rep = training.run(hw, wl, 4, 10, {"0-2": {"*": 4}, (2, 4): {"*": 8}}, recipe="int8",
                       optimizer="sgd")
    assert list(rep.epochs["formats"]) == ["gemm=fixed4"] * 2 + ["gemm=fixed8"] * 2
    assert len(rep.steps) == 2
    assert rep.epochs["step_s"].iloc[0] < rep.epochs["step_s"].iloc[3]
    assert rep.time_s == pytest.approx(10 * sum(rep.epochs["step_s"]))


def test_step_is_deterministic():
    hw = pysim.gpu.preset("a100")
    a, b = (training.step(hw, mlp()).summary() for _ in range(2))
    assert a == b


def test_weight_grad_reads_operands_at_their_own_shapes():
    g = graph(pysim.zoo.load("resnet18"), "mixed_bf16")
    dw = op(g, "conv1.dW")
    assert isinstance(dw, WeightGrad) and dw.x_shape == (1, 224, 224, 3)


def test_cli_train_prints_the_step(capsys):
    from pysim.cli import main

    assert main(["train", "gpu:a100", "gemm", "--optimizer", "sgd"]) == 0
    out = capsys.readouterr().out
    assert "macs_dW" in out and "memory" in out
    step = training.step(pysim.gpu.preset("a100"), "gemm", "sgd")
    for field in ("dram_read_bytes", "dram_write_bytes"):  # the step's traffic, as its result's
        assert step.summary()[field] == getattr(step.result, field) > 0
        assert f"{field:<20} {getattr(step.result, field)}" in out
    assert main(["train", "gpu:a100", "gemm", "--recipe", "fp8"]) == 2
    assert "fp8_e4m3" in capsys.readouterr().err


# -- batch normalisation in training ---------------------------------------------------------

def bn_net(batch: int = 2, size: int = 4, c: int = 3, f: int = 8) -> Workload:
    return Workload("bn", [
        Conv2d(name="conv", inputs=("x",), batch=batch, in_h=size, in_w=size, in_c=c, out_c=f,
               kernel=(3, 3), padding=(1, 1)),
        Elementwise(name="bn", op="batchnorm", inputs=("conv",), shape=(batch, size, size, f)),
        Elementwise(name="relu", op="relu", inputs=("bn",), shape=(batch, size, size, f)),
    ], [{"name": "x", "shape": (batch, size, size, c), "bits": 8}])


def test_batchnorm_trains_with_batch_statistics_and_a_two_pass_backward():
    g = graph(bn_net())
    ops = {o.name: o for o in g.workload.ops}
    roles = {o.name: (o.phase, o.role) for o in g.ops}
    x = (2, 4, 4, 8)
    # forward: the statistics (a pass over X), then the normalisation reading X and them
    assert ops["bn.stats"].input_shapes() == (x,) and ops["bn.stats"].output_shape == (2, 8)
    assert ops["bn"].inputs == ("conv", "bn.stats") and ops["bn"].output == "bn"
    assert ops["bn"].vector_work() == 2 * 2 * 4 * 4 * 8
    # backward: dgamma / dbeta (a pass over dY and X), then dX (a second pass)
    assert roles["bn.dgamma"] == ("backward", "bias_grad")
    assert set(ops["bn.dgamma"].inputs) >= {"conv", "bn.stats"}
    assert {"conv", "bn.stats", "bn.dgamma"} <= set(ops["bn.d0"].inputs)
    assert ops["bn.d0"].output_shape == x
    # X and the statistics are saved; gamma and beta are updated
    assert {"conv", "bn.stats"} <= set(g.saved)
    assert g.params["bn"] == 2 * 8 and g.update_grads["bn"] == ("bn.dgamma",)
    # the conv's dW reads the gradient that came through the batch norm
    assert any(t.startswith("bn.d0") for o in g.workload.ops if o.name.startswith("conv.")
               for t in o.inputs)


def test_batchnorm_training_form_costs_more_than_folded_and_the_zoo_name_loads_it():
    hw = pysim.gpu.preset("a100")
    folded = training.step(hw, pysim.zoo.load("resnet18", batch=8), "sgd", "mixed_fp16")
    kept = training.step(hw, pysim.zoo.load("resnet18", batch=8, batchnorm=True), "sgd",
                         "mixed_fp16")
    by_name = training.step(hw, "resnet18", "sgd", "mixed_fp16")
    assert kept.macs == folded.macs  # the same GEMMs ...
    assert kept.latency_s > folded.latency_s  # ... and the batch norms' memory-bound passes
    assert kept.memory.saved_activations > folded.memory.saved_activations
    assert any(o.name.endswith(".stats") for o in by_name.graph.workload.ops)


def _linear_step(hw, recipe: str, bias: bool):  # noqa: ANN001, ANN202
    wl = Workload("lin", [Gemm(name="fc", inputs=("x",), m=512, k=256, n=1024, bias=bias,
                               act_bits=16, weight_bits=16)],
                  [{"name": "x", "shape": (512, 256), "bits": 16}])
    return training.step(hw, wl, "adam", recipe)


def test_a_fused_bias_gradient_runs_beside_the_dw_gemm_on_the_vector_unit():
    """tpu_v1 (int8): the dW GEMM reads dY as it is, so the bias gradient is its op's vector
    work (one add per dY element) and not an op of its own."""
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    with_bias, without = (_linear_step(hw, "int8", b) for b in (True, False))
    fused, plain = (s.result.layers.set_index("op") for s in (with_bias, without))
    dw = next(o for o in with_bias.graph.workload.ops if o.name == "fc.dW")
    assert dw.bias and "fc.dbias" not in fused.index
    assert len(with_bias.graph.workload.ops) == len(without.graph.workload.ops)
    assert fused.loc["fc.dW", "vector_ops"] == 512 * 1024
    assert plain.loc["fc.dW", "vector_ops"] == 0
    assert (fused.loc["fc.dW", "compute_cycles"]
            >= 512 * 1024 / hw.vector.ops_per_cycle)


def test_a_bias_gradient_is_an_epilogue_on_a_gpu_and_an_eager_kernel_without_fusion():
    """a100: cuBLASLt's BGRADB epilogue writes the n sums and costs no kernel of its own;
    under ``fusion: none`` (eager PyTorch) grad_output.sum(0) reads dY again in a kernel of
    its own (a launch, its latency and the bytes)."""
    from pysim.gpu.kernels import mac_kernel

    dw = next(o for o in _linear_step(pysim.gpu.preset("a100"), "mixed_bf16", True)
              .graph.workload.ops if o.name == "fc.dW")
    plain = dw.model_copy(update={"bias": False})
    for fusion in ("epilogue", "none"):
        gpu = pysim.gpu.preset("a100").replace(fusion=fusion)
        fused, alone = mac_kernel(gpu, dw), mac_kernel(gpu, plain)
        assert fused.hbm_write_bytes - alone.hbm_write_bytes == dw.bias_grad_bytes() == 1024 * 4
        if fusion == "epilogue":
            assert fused.launches == alone.launches and fused.hbm_read_bytes == alone.hbm_read_bytes
            assert fused.seconds - alone.seconds < 1e-8
        else:
            dy = 512 * 1024 * 2  # bf16
            assert fused.launches == alone.launches + 1
            assert fused.hbm_read_bytes - alone.hbm_read_bytes == dy
            assert fused.seconds - alone.seconds >= (gpu.launch_overhead_us
                                                     + gpu.kernel_latency_us) * 1e-6
