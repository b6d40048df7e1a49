"""Data-parallel training anchor: ResNet-50 on 1 and 8 A100s (DGX A100), simulated with
``pysim.training.step(..., data_parallel=8)`` against NVIDIA's published throughput
(DeepLearningExamples, ResNet50 v1.5 for PyTorch; fixture tests/data/seeds/ddp_resnet50.yaml).

Setup as NVIDIA's: batch 256 per GPU, mixed precision (``amp_fp16``, torch.cuda.amp's
autocast: fp16 convolutions and GEMMs on cast copies, fp32 master weights and gradients, the
fp32 loss, loss scaling), SGD with momentum, DDP's 25 MiB gradient buckets
all-reduced over NVLink (the a100 preset: 300 GB/s per direction, 1.9 us per ring step). The
figure compared is the 8-GPU scaling (8-GPU over 1-GPU throughput); the absolute 1-GPU
throughput is printed too, as the gap it leaves is the single-device model's, not the
all-reduce's. The zoo ResNet-50 is loaded in its training form (``batchnorm=True``): each
batch norm's statistics, normalisation and two-pass backward are memory-bound kernels of
their own. The input pipeline (DALI JPEG decoding on the CPUs) is not simulated.

The published TF32 row ran in NCHW (``torch.contiguous_format``: configs.yml's DGXA100 TF32
entry sets no ``memory_format`` and main.py defaults to ``nchw``) where the AMP row ran in NHWC
(``channels_last``), the layout tensor-core convolutions take natively; pysim models the NHWC
kernels. The same AMP-over-TF32 speed-up with both runs in channels_last, measured on an H200
(benchmarks/data/h200_kernels/train.csv, eager PyTorch), is printed beside pysim's on the
``h200`` preset as a cross-check.

Run: python examples/seeds/ddp_resnet50.py
"""

from __future__ import annotations

import csv
import functools
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import paper  # noqa: E402

H200_TRAIN = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "h200_kernels" / \
    "train.csv"

import pysim  # noqa: E402
from pysim import training, zoo  # noqa: E402


def compute(devices: int = 8) -> dict[str, Any]:
    """Simulated 1- and ``devices``-GPU throughput of ResNet-50 training, its scaling, the
    all-reduce's time and its exposed part (25 MiB buckets and one bucket)."""
    ref = paper("ddp_resnet50")
    hw = pysim.gpu.preset(ref["gpu"])
    batch = ref["batch_per_gpu"]
    wl = zoo.load("resnet50", batch=batch, batchnorm=True)
    # torch.cuda.amp: autocast casts the weights before each forward GEMM (amp's default)
    amp = functools.partial(training.step, hw, wl, ref["optimizer"], "amp_fp16")
    one = amp()
    many = amp(data_parallel=devices)
    lump = amp(data_parallel=devices, bucket_mib=1e6)
    tf32 = training.step(hw, wl, ref["optimizer"], "fp32")  # fp32 GEMMs run as TF32 MMAs
    d, d1 = many.data_parallel, lump.data_parallel
    assert d is not None and d1 is not None
    return {"devices": devices, "step_1_ms": one.latency_s * 1e3,
            "step_n_ms": many.latency_s * 1e3, "images_per_s_1": batch / one.latency_s,
            "images_per_s_n": devices * batch / many.latency_s,
            "scaling": devices * one.latency_s / many.latency_s,
            "buckets": len(d.buckets), "grad_mb": d.grad_bytes / 1e6,
            "comm_ms": d.comm_s * 1e3, "exposed_ms": d.exposed_comm_s * 1e3,
            "one_bucket_exposed_ms": d1.exposed_comm_s * 1e3,
            "one_bucket_scaling": devices * one.latency_s / lump.latency_s,
            "tf32_images_per_s_1": batch / tf32.latency_s,
            "amp_speedup": tf32.latency_s / one.latency_s, **h200_cross_check()}


def h200_cross_check() -> dict[str, float]:
    """AMP over TF32 for ResNet-50 training at batch 256 with both runs in channels_last:
    measured on an H200 (train.csv) and simulated on the h200 preset as eager PyTorch runs it
    (each elementwise op its own kernel; autocast's weight casts before each forward GEMM;
    momentum SGD), as benchmarks/validate_h200_training.py sets it up."""
    with H200_TRAIN.open() as f:
        rows = {r["precision"]: float(r["time_s"]) for r in csv.DictReader(f)
                if r["model"] == "resnet50" and r["batch"] == "256"}
    hw = pysim.gpu.preset("h200").replace(fusion="none")
    wl = zoo.load("resnet50", batch=256, batchnorm=True)
    sim = {recipe: training.step(hw, wl, "momentum", recipe, weight_copy="forward").latency_s
           for recipe in ("fp32", "amp_fp16")}
    return {"h200_amp_speedup": sim["fp32"] / sim["amp_fp16"],
            "h200_amp_speedup_measured": rows["tf32"] / rows["amp_fp16"]}


def main() -> None:
    ref = paper("ddp_resnet50")
    g = compute()
    pub1, pub8 = ref["images_per_s"][1], ref["images_per_s"][8]
    print("ResNet-50 training, DGX A100, AMP, batch 256 per GPU, DDP over NVLink")
    print(f"  {'':28}{'pysim':>10}{'published':>11}{'ratio':>8}")
    print(f"  {'1 GPU, images/s':28}{g['images_per_s_1']:10.0f}{pub1:11.0f}"
          f"{g['images_per_s_1'] / pub1:8.2f}")
    print(f"  {'8 GPUs, images/s':28}{g['images_per_s_n']:10.0f}{pub8:11.0f}"
          f"{g['images_per_s_n'] / pub8:8.2f}")
    print(f"  {'8-GPU scaling':28}{g['scaling']:10.2f}{ref['scaling_8']:11.2f}"
          f"{g['scaling'] / ref['scaling_8']:8.2f}")
    tf1 = ref["tf32_images_per_s"][1]
    print(f"  {'1 GPU TF32, images/s':28}{g['tf32_images_per_s_1']:10.0f}{tf1:11.0f}"
          f"{g['tf32_images_per_s_1'] / tf1:8.2f}")
    print(f"  {'AMP over TF32, 1 GPU':28}{g['amp_speedup']:10.2f}{pub1 / tf1:11.2f}"
          f"{g['amp_speedup'] * tf1 / pub1:8.2f}")
    print(f"  {'AMP over TF32, H200, NHWC':28}{g['h200_amp_speedup']:10.2f}"
          f"{g['h200_amp_speedup_measured']:11.2f}"
          f"{g['h200_amp_speedup'] / g['h200_amp_speedup_measured']:8.2f}"
          "  (measured: train.csv, both runs channels_last)")
    print("  the published TF32 row ran NCHW (configs.yml sets nhwc for AMP only; main.py's "
          "default is nchw), the layout tensor-core convolutions do not take natively")
    print(f"  gradients {g['grad_mb']:.1f} MB in {g['buckets']} buckets: all-reduce "
          f"{g['comm_ms']:.3f} ms on the link, {g['exposed_ms']:.3f} ms exposed "
          f"(one bucket: {g['one_bucket_exposed_ms']:.3f} ms exposed, scaling "
          f"{g['one_bucket_scaling']:.2f})")
    extra = 8 * ref["batch_per_gpu"] / pub8 - ref["batch_per_gpu"] / pub1
    print(f"  published: the 8-GPU step is {extra * 1e3:.1f} ms longer than the 1-GPU step, "
          f"{extra * 1e3 / g['comm_ms']:.0f}x pysim's whole all-reduce: most of that gap is not "
          "the link (input pipeline, NCCL kernels' share of the SMs, stragglers)")


if __name__ == "__main__":
    main()
