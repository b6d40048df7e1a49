"""Tensor-parallel serving anchor: LLaMA-2-70B on four A100s (tp 4, fp16) against
TensorRT-LLM's published throughput and first-token latency.

Published: NVIDIA/TensorRT-LLM, docs/source/performance.md at commit 77d24b5 (v0.6.1 era),
tables "A100 GPUs (FP16)" (the figures and set-up: tests/data/serving/
trtllm_llama2_70b_a100_tp4.yaml). Throughput rows: gptSessionBenchmark, one static batch of
``batch`` identical requests (``input`` prompt + ``output`` generated tokens), output tokens/s
per GPU. Latency rows (TensorRT-LLM v0.5): batch 1, the first token's latency.

pysim: ``sv.serve`` on ``a100`` (SXM 80 GB, NVLink) with ``ParallelConfig(tp=4)``, fp16, the
``static`` scheduler with ``max_batch=batch`` and every request arriving at 0; throughput per
GPU = output tokens / makespan / 4; first-token latency = TTFT of a lone request.
ASSUMPTIONS: "LLaMA 70B" is LLaMA-2-70B (the file's build command: 80 layers, 64 heads, 8 K/V
heads, FFN 28672); the A100 is the 80 GB SXM part; the throughput includes the batch's prefill
(gptSessionBenchmark times the whole generate call); TensorRT-LLM's all-reduce kernels are
priced as NCCL ring collectives (pysim/interconnect.py).

    python examples/serving/tp_llama70b.py
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

import pysim
import pysim.serving as sv

FIXTURE = (Path(__file__).resolve().parent.parent.parent / "tests" / "data" / "serving"
           / "trtllm_llama2_70b_a100_tp4.yaml")


@dataclass(frozen=True)
class AnchorRow:
    """One published figure and pysim's: ``what`` names the set-up; ``unit`` the figure's."""

    what: str
    unit: str
    published: float
    simulated: float

    @property
    def ratio(self) -> float:
        return self.simulated / self.published


def published() -> dict:
    """The fixture: TensorRT-LLM's figures and their set-up."""
    with open(FIXTURE) as f:
        return yaml.safe_load(f)


def compute() -> list[AnchorRow]:
    """pysim's figure for every published row."""
    pub = published()
    hw = pysim.gpu.preset(pub["gpu"])
    tp = int(pub["tp"])
    par = sv.ParallelConfig(tp=tp)
    cost = sv.CostModel(hw, sv.model(pub["model"]), parallel=par)  # shared cache
    rows = []
    for r in pub["throughput"]:
        reqs = [sv.Request(i, 0.0, r["input"], r["output"]) for i in range(r["batch"])]
        res = sv.serve(hw, pub["model"], reqs, cost_model=cost, scheduler="static",
                       max_batch=r["batch"], parallel=par)
        per_gpu = r["batch"] * r["output"] / res.summary().makespan_s / tp
        rows.append(AnchorRow(f"batch {r['batch']}, {r['input']} / {r['output']}",
                              "out tok/s/GPU", r["tokens_per_s_per_gpu"], per_gpu))
    for r in pub["first_token_latency"]:
        res = sv.serve(hw, pub["model"], [sv.Request(0, 0.0, r["input"], 1)], cost_model=cost,
                       parallel=par)
        rows.append(AnchorRow(f"batch 1, {r['input']} in", "TTFT ms", r["ttft_ms"],
                              res.summary().ttft_p50_s * 1e3))
    return rows


def main() -> None:
    pub = published()
    print(f"LLaMA-2-70B, {pub['tp']} x {pub['gpu']} {pub['precision']}, tensor parallel "
          f"{pub['tp']}: TensorRT-LLM ({pub['source']})")
    print(f"{'set-up':24} {'figure':14} {'published':>9} {'pysim':>8} {'ratio':>6}")
    for r in compute():
        print(f"{r.what:24} {r.unit:14} {r.published:9.0f} {r.simulated:8.1f} {r.ratio:6.2f}")


if __name__ == "__main__":
    main()
