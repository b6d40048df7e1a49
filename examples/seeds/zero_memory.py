"""ZeRO's memory and communication per device, beside the ZeRO paper's figures.

Published: Rajbhandari, Rasley, Ruwase, He, "ZeRO: Memory Optimizations Toward Training
Trillion Parameter Models", SC 2020. Figure 1: the model states of a 7.5B-parameter model
(Psi) trained with mixed-precision Adam (fp16 parameters and gradients, 2 Psi bytes each; fp32
master weights, momentum and variance, K = 12 bytes per parameter) on N_d = 64 devices take
per device 120 GB (baseline data parallelism), 31.4 GB (P_os: optimizer states
partitioned), 16.6 GB (P_os+g: and gradients), 1.9 GB (P_os+g+p: and parameters). Section 7:
each device moves 2 Psi elements per step under data parallelism, P_os and P_os+g alike, and
3 Psi under P_os+g+p.

pysim: ``training.step(..., data_parallel=64, zero_stage=S)`` of LLaMA-2-7B (the zoo's
``llama2_7b``, 6.6B parameters, batch 1 x 512) on the a100 preset in the paper's formats
(``mixed_fp16`` with fp16 weight gradients, Adam): its master weights + weight copies +
weight gradients + optimizer states per parameter, times the paper's 7.5e9; and the bytes
each device sends over the step per 2 bytes x Psi, times n / (n - 1) (a ring sends (n-1)/n
of what the paper counts). Model states do not depend on the architecture: a 7.5B model of
any shape holds the same bytes per parameter.

The figures agree to the paper's rounding but for what pysim holds that the paper's count
leaves out: no copy of a bias (graph.py copies the weight matrices; 0.0 % of LLaMA's
parameters, which have no biases) and the RMS norms' gains, which the forward reads in
their fp32 master format (4 bytes, partitioned only by stage 3; 266k of 6.6B parameters).
Activations, working memory and the buckets in flight (``comm_buffers``) are not model
states and not in the figure.

Run: python examples/seeds/zero_memory.py
"""

from __future__ import annotations

from typing import Any

import pysim
from pysim import training, zoo

PAPER = {"paper": "Rajbhandari et al., ZeRO, SC 2020, Figure 1 and section 7",
         "psi": 7.5e9, "devices": 64,
         "gb": {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9},  # per device, decimal GB
         "psi_sent": {0: 2.0, 1: 2.0, 2: 2.0, 3: 3.0}}  # elements sent per device / Psi
STAGES = ("baseline (DDP)", "P_os", "P_os+g", "P_os+g+p")


def compute(devices: int = PAPER["devices"]) -> dict[str, Any]:
    """Per stage: pysim's model-state GB per device at Psi = 7.5e9 and its elements sent per
    device over Psi, beside the paper's."""
    hw = pysim.gpu.preset("a100")
    wl = zoo.load("llama2_7b", batch=1, seq_len=512, precision="fp16")
    rows = []
    for stage in range(4):
        s = training.step(hw, wl, "adam", "mixed_fp16", formats={"weight_grad": "fp16"},
                          data_parallel=devices, zero_stage=stage, memory_gib=1e6)
        m = s.memory
        psi = sum(s.graph.params.values())
        states = m.master_weights + m.weight_copies + m.weight_grads + m.optimizer_states
        gb = states / psi * PAPER["psi"] / 1e9
        sent = s.data_parallel.comm_bytes_per_device / (2 * psi) * devices / (devices - 1)
        rows.append({"stage": stage, "name": STAGES[stage], "bytes_per_param": states / psi,
                     "gb": gb, "paper_gb": PAPER["gb"][stage], "psi_sent": sent,
                     "paper_psi_sent": PAPER["psi_sent"][stage]})
    return {"rows": rows, "devices": devices}


def main() -> None:
    out = compute()
    print(f"ZeRO model states per device, Psi = 7.5B, {out['devices']} devices, mixed-precision "
          f"Adam ({PAPER['paper']})")
    print(f"{'stage':<16} {'B/param':>8} {'pysim GB':>9} {'paper GB':>9} {'ratio':>6} "
          f"{'sent/Psi':>9} {'paper':>6} {'ratio':>6}")
    for r in out["rows"]:
        print(f"{r['name']:<16} {r['bytes_per_param']:>8.3f} {r['gb']:>9.2f} "
              f"{r['paper_gb']:>9.1f} {r['gb'] / r['paper_gb']:>6.3f} {r['psi_sent']:>9.3f} "
              f"{r['paper_psi_sent']:>6.1f} {r['psi_sent'] / r['paper_psi_sent']:>6.3f}")


if __name__ == "__main__":
    main()
