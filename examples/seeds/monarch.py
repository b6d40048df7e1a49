"""Monarch structured-matrix training (Dao et al., ICML 2022): one training step of GPT-2
small, dense against Monarch MLPs, on an A100 preset, beside the paper's "2x faster" GPT-2
training (fixture tests/data/seeds/monarch.yaml, with what of it could not be verified).

Setup from the authors' configs (HazyResearch/fly): both MLP linears of every block become
Monarch layers of 4 blocks (``pysim.training.monarchize``: two batched block GEMMs, the
permutation P and the output permutation as copies, the bias a separate add, as fly's
``BlockdiagButterflyMultiply`` runs them); attention and the LM head stay dense; AMP fp16,
AdamW, batch 16 x 1024 tokens per GPU, one GPU (the paper's 8 run data-parallel). Also
printed: P made free (``permutations="view"``), every block linear Monarch, and the Amdahl
bound (the dense step with its MLP linears' time removed), which caps any MLP-only speed-up.

Run: python examples/seeds/monarch.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import paper  # noqa: E402

import pysim  # noqa: E402
from pysim import training, zoo  # noqa: E402
from pysim.training.monarch import monarchize  # noqa: E402


def compute(batch: int | None = None, seq_len: int | None = None) -> dict[str, Any]:
    """Step times (ms) of dense and Monarch GPT-2, the speed-ups and the Amdahl bound."""
    ref = paper("monarch")
    hw = pysim.gpu.preset(ref["gpu"])
    wl = zoo.load(ref["model"], batch=batch or ref["batch_per_gpu"],
                  seq_len=seq_len or ref["seq_len"])

    def run(w: pysim.Workload) -> training.TrainingStep:
        return training.step(hw, w, ref["optimizer"], ref["recipe"])

    dense = run(wl)
    mlp = monarchize(wl, ref["blocks"], ops=ref["layers"])
    mon = run(mlp)
    view = run(monarchize(wl, ref["blocks"], ops=ref["layers"], permutations="view"))
    every = run(monarchize(wl, ref["blocks"], ops=["h*"]))
    layers = dense.result.layers
    layer = {o.name: o.layer for o in dense.graph.ops}
    picked = layers["op"].map(lambda n: layer[n].split(".")[-1] in ("fc", "proj"))
    mlp_s = float(layers.loc[picked, "cycles"].sum()) / dense.result.clock_hz
    return {"dense_ms": dense.latency_s * 1e3, "monarch_ms": mon.latency_s * 1e3,
            "view_ms": view.latency_s * 1e3, "all_ms": every.latency_s * 1e3,
            "speedup": dense.latency_s / mon.latency_s,
            "view_speedup": dense.latency_s / view.latency_s,
            "all_speedup": dense.latency_s / every.latency_s,
            "amdahl_bound": dense.latency_s / (dense.latency_s - mlp_s),
            "mlp_share": mlp_s / dense.latency_s,
            "macs_ratio": wl.macs / mlp.macs,
            "params_dense": sum(dense.graph.params.values()),
            "params_monarch": sum(mon.graph.params.values())}


def main() -> None:
    ref = paper("monarch")
    g = compute()
    print(f"GPT-2 small training step, {ref['gpu']} preset, {ref['recipe']}, "
          f"{ref['optimizer']}, batch {ref['batch_per_gpu']} x {ref['seq_len']}, "
          f"Monarch b={ref['blocks']} in the MLPs")
    print(f"  dense {g['dense_ms']:.1f} ms, Monarch {g['monarch_ms']:.1f} ms; forward MACs "
          f"{g['macs_ratio']:.2f}x fewer, parameters {g['params_dense'] / 1e6:.1f}M -> "
          f"{g['params_monarch'] / 1e6:.1f}M")
    print(f"  {'':34}{'pysim':>8}{'paper':>8}{'ratio':>8}")
    print(f"  {'speed-up, Monarch MLPs':34}{g['speedup']:8.2f}{ref['speedup']:8.2f}"
          f"{g['speedup'] / ref['speedup']:8.2f}")
    print(f"  {'  with P free (view)':34}{g['view_speedup']:8.2f}")
    print(f"  {'  every block linear Monarch':34}{g['all_speedup']:8.2f}")
    print(f"  {'  Amdahl bound (MLP linears free)':34}{g['amdahl_bound']:8.2f}")
    print(f"  the MLP linears are {g['mlp_share']:.0%} of the dense step; the paper's 2x "
          "(abstract; its table and GPU not verified) cannot come from them alone")


if __name__ == "__main__":
    main()
