"""AdaPT's training speed-up (Kummer et al., "AdaPT: Fast Training of Deep Neural Networks
with Adaptive Precision", arXiv:2107.13490, abstract: an average training speed-up of 1.27
over float32), from a precision schedule run by ``pysim.training.run``.

ASSUMED schedule (AdaPT chooses per-layer word lengths adaptively; they are not restated
here): 10 epochs of 100 steps; every MAC layer in 8-bit fixed point for epochs 0-7, then the
float32 recipe for the last 2 (AdaPT widens word lengths as training converges). ResNet-18 in
its training form (``batchnorm=True``: batch norms simulated), batch 32, SGD, the ``a100``
preset (fp32 GEMMs run as TF32 tensor-core MMAs, fixed8 as int8 MMAs). The baseline is the
same run in fp32 throughout. Not modelled: AdaPT's precision-switching analysis (its cost
per epoch) and the per-layer word lengths it reaches.

Also printed: the speed-up of one fixed8 step over one fp32 step (the bound for a schedule
that never returns to fp32) and the share of the fp32 step in MAC ops.

Run: python examples/seeds/adapt_training.py
"""

from __future__ import annotations

from typing import Any

import pysim
from pysim import training, zoo

PAPER = {"paper": "Kummer et al., AdaPT, arXiv:2107.13490 (abstract)", "speedup": 1.27}
SCHEDULE = {"0-8": {"*": 8}}
EPOCHS, STEPS = 10, 100
BAND = (0.85, 1.25)  # pysim / published


def compute(batch: int = 32) -> dict[str, Any]:
    """Run time of the fp32 and the scheduled run, their ratio and what bounds it."""
    hw = pysim.gpu.preset("a100")
    wl = zoo.load("resnet18", batch=batch, batchnorm=True)
    base = training.run(hw, wl, EPOCHS, STEPS, None, optimizer="sgd", recipe="fp32")
    sched = training.run(hw, wl, EPOCHS, STEPS, SCHEDULE, optimizer="sgd", recipe="fp32")
    fp32_step = base.steps[0]
    fixed_step = sched.steps[0]  # epoch 0's: every MAC layer fixed8
    layers = fp32_step.result.layers
    mac_share = float(layers.loc[layers["macs"] > 0, "cycles"].sum()) / \
        float(layers["cycles"].sum())
    speedup = base.time_s / sched.time_s
    return {"base_s": base.time_s, "scheduled_s": sched.time_s, "speedup": speedup,
            "published": PAPER["speedup"], "ratio": speedup / PAPER["speedup"],
            "step_speedup": fp32_step.latency_s / fixed_step.latency_s,
            "mac_share_fp32": mac_share,
            "epoch_formats": list(sched.epochs["formats"])}


def main() -> None:
    g = compute()
    print("AdaPT-style schedule, ResNet-18 (training form) batch 32, SGD, a100 preset: "
          "fixed8 for epochs 0-7, fp32 for 8-9 (assumed), against fp32 throughout")
    print(f"  run {g['base_s']:.3f} s -> {g['scheduled_s']:.3f} s")
    print(f"  {'':28}{'pysim':>8}{'paper':>8}{'ratio':>8}")
    print(f"  {'training speed-up':28}{g['speedup']:8.2f}{g['published']:8.2f}"
          f"{g['ratio']:8.3f}")
    print(f"  one fixed8 step over one fp32 step: {g['step_speedup']:.2f}x (the bound of an "
          f"all-fixed8 schedule); MAC ops are {g['mac_share_fp32']:.0%} of the fp32 step")
    print(f"  band {BAND[0]}-{BAND[1]}x of {PAPER['paper']}'s {PAPER['speedup']}")


if __name__ == "__main__":
    main()
