"""Training steps against published figures: prints pysim's figure, the published one (with
its source) and their ratio. Each case is an example under examples/seeds/ (its docstring
states the assumptions; tests/test_training_anchors.py pins its band; docs/seed_systems.md
explains the gaps):

    python benchmarks/validate_training.py

1. FLOPs of a GPT-2 training step against Kaplan et al. 2020's 6 N + 6 n_layer n_ctx d rule
   (examples/seeds/kaplan_flops.py: the difference is exactly the P V term less the biases).
2. Model FLOPs utilisation of a GPT-2 bf16 training step on the A100 preset against
   Megatron-LM's 52 % per A100 (examples/seeds/megatron_mfu.py; band 0.9-1.25x).
3. AdaPT's 1.27x training speed-up over float32 under an assumed schedule
   (examples/seeds/adapt_training.py; band 0.85-1.25x).
4. ZeRO's per-device model states and traffic at each stage against the ZeRO paper's
   Figure 1 and section 7 (examples/seeds/zero_memory.py: to the paper's rounding).
5. A 7B decoder's MFU under FSDP (zero_stage=3) on 8 A100s and 8 H100s against MosaicML's
   llm-foundry benchmarks of MPT-7B (examples/seeds/fsdp_7b.py; bands 1.0-1.3x, 1.0-1.2x).
6. Tensor-parallel weak scaling of GPT on V100s against Megatron-LM's 77 % at 8-way
   (examples/seeds/megatron_tp.py; band 0.85-1.1x).
"""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

SEEDS = Path(__file__).resolve().parent.parent / "examples" / "seeds"


def _script(name: str) -> SimpleNamespace:
    """examples/seeds/<name>.py's globals (its compute() and main())."""
    return SimpleNamespace(**runpy.run_path(str(SEEDS / f"{name}.py"), run_name=f"seed_{name}"))


def row(name: str, ours: float, published: float, note: str) -> None:
    print(f"{name:<44} {ours:>12.4g} {published:>12.4g} {ours / published:>7.3f}  {note}")


if __name__ == "__main__":
    print(f"{'case':<44} {'pysim':>12} {'published':>12} {'ratio':>7}  source")
    k = _script("kaplan_flops").compute()
    row("GPT-2 step FLOPs / 6NT+attention rule", k["pysim_flops"], k["kaplan_flops"],
        "Kaplan et al. 2020; gap = P V term - biases, exactly")
    m = _script("megatron_mfu")
    g = m.compute()
    row("GPT-2 bf16 step MFU on A100 (batch 8x1024)", g["mfu"], g["published_mfu"],
        f"Megatron-LM SC'21, 1T model on 3072 A100s; band {m.BAND[0]}-{m.BAND[1]}x")
    a = _script("adapt_training")
    g = a.compute()
    row("AdaPT-style schedule speed-up, ResNet-18 A100", g["speedup"], g["published"],
        f"Kummer et al. 2021; fixed8 x8 epochs then fp32 x2; band {a.BAND[0]}-{a.BAND[1]}x")
    z = _script("zero_memory").compute()
    for r in z["rows"]:
        row(f"ZeRO {r['name']}: GB/device, 7.5B on 64", r["gb"], r["paper_gb"],
            "Rajbhandari et al. SC'20, Figure 1 (mixed-precision Adam)")
    r = z["rows"][3]
    row("ZeRO P_os+g+p: elements sent / Psi", r["psi_sent"], r["paper_psi_sent"],
        "ZeRO section 7: 3 Psi (DDP, P_os, P_os+g: 2 Psi)")
    f = _script("fsdp_7b")
    for gpu in f.PUBLISHED:
        g = f.compute(gpu)
        row(f"7B FSDP MFU, 8 {gpu.upper()}s, {g['accum']}x6x2048", g["mfu"],
            g["published_mfu"],
            f"MosaicML llm-foundry, MPT-7B FULL_SHARD; band {g['band'][0]}-{g['band'][1]}x")
    t = _script("megatron_tp")
    g = t.compute()
    row("GPT 8.3B 8-way TP weak scaling, V100", g["weak_scaling_8"],
        t.PUBLISHED["weak_scaling_8"],
        f"Shoeybi et al. 2019 (Megatron-LM); band {t.BAND[0]}-{t.BAND[1]}x")
