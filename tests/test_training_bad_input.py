"""Bad input to pysim.training: one-line errors naming the field, the value and what is
allowed."""

from __future__ import annotations

import pysim
from pysim import training
from pysim.training.ops import VectorWork
from pysim.workload import Gemm, Workload
from tests.one_line import one_line


def mlp() -> Workload:
    return Workload("mlp", [Gemm(name="fc1", inputs=("x",), m=4, k=8, n=16)],
                    [{"name": "x", "shape": (4, 8), "bits": 8}])


A100 = pysim.gpu.preset("a100")


def test_unknown_optimizer():
    one_line(lambda: training.step(A100, mlp(), optimizer="lion"), "lion", "adamw")


def test_unknown_recipe_and_format():
    one_line(lambda: training.step(A100, mlp(), recipe="fp3"), "fp3", "mixed_bf16")
    one_line(lambda: training.step(A100, mlp(), layer_formats={"fc1": "e9m9"}), "e9m9",
             "fp8_e4m3")
    one_line(lambda: training.step(A100, mlp(), layer_formats={"fc1": 40}), "40", "1..32")


def test_unknown_layer_in_formats_and_schedule():
    one_line(lambda: training.step(A100, mlp(), layer_formats={"fc9": 8}), "fc9", "fc1")
    one_line(lambda: training.run(A100, mlp(), 2, 1, {"0-2": {"fc9": 8}}), "fc9", "fc1")


def test_bad_epoch_range_and_counts():
    one_line(lambda: training.run(A100, mlp(), 2, 1, {"2-1": {"fc1": 8}}), "2-1")
    one_line(lambda: training.run(A100, mlp(), 0, 1), "epochs", "0")


def test_op_without_backward_rule():
    wl = Workload("w", [VectorWork(name="odd", inputs=("x",), shapes=((4,),),
                                   out_shape=(4,))], [{"name": "x", "shape": (4,), "bits": 8}])
    one_line(lambda: training.step(A100, wl), "odd", "vector_work", "conv2d")


def test_format_the_hardware_lacks_names_role_and_layer():
    one_line(lambda: training.step(A100, mlp(), recipe="fp8"), "fc1", "fp8_e4m3",
             "forward", "fp16")
    npu = pysim.load_hardware("configs/edge_npu.yaml")
    one_line(lambda: training.step(npu, mlp(), recipe="mixed_bf16"), "fc1", "bf16")


def test_bad_memory():
    one_line(lambda: training.step(A100, mlp(), memory_gib=-1), "memory_gib", "-1")
