"""Weights in host memory (``host.offload``, pysim/config/host.py) against published offloading
throughputs: prints pysim's figure, the published one, their ratio and the source.

FlexGen's baselines (Sheng et al., "FlexGen", ICML 2023, Table 2; the repository's
benchmark/batch_size_table.md gives each system's batch): OPT-30B in fp16 on one NVIDIA T4
(16 GB) of a GCP instance with 208 GB of DRAM, prompts of 512 tokens, 32 generated, throughput
= batch x 32 / (prefill + decode latency) (benchmark/hf_ds/hf_opt.py):

- Hugging Face Accelerate, batch 8, 0.62 token/s: hf_opt.py's device_map puts every decoder
  layer on the CPU and runs them through Accelerate's hooks, which copy a layer's weights in
  when it is called (``offload: on_demand`` with ``device_weights_gib: 0``).
- DeepSpeed ZeRO-Inference, batch 4, 0.60 token/s: ZeRO-3 with every parameter offloaded to
  pinned CPU memory (stage3_param_persistence_threshold 0, pin_memory 1) and prefetched
  (``offload: prefetch``, ``device_weights_gib: 0``).

And one serving figure (pysim.serving, pysim/serving/offload.py): the Aphrodite engine's port of
vLLM's ``--cpu-offload-gb`` (dphnAI/sonar pull request 598, A. Dale, Aug 2024: "Llama-2 13B @
FP16, RTX 4090, offloaded 5 GiB, decode 2.4 tok/s"), which copies an offloaded layer's
parameters in from pinned memory before its forward (``on_demand``); pysim serves one request
on the rtx4090 preset (PCIe 4.0 x16) keeping all but 5 GiB on the device, at a memory fraction
of 0.95 (at vLLM's 0.9 the 4096-token cache would not fit beside them). The pull request does
not state the PC's PCIe link; a second row runs the same on a PCIe 3.0 x16 (or 4.0 x8) link.

pysim runs the t4 preset (pysim.gpu.preset("t4")) with its PCIe 3.0 x16 host link at the
default achieved rate, 0.88 of 15.75 GB/s: FlexGen's own fit of this machine's CPU-to-GPU
copies, 12.89 GiB/s (flexgen/cost_model.py, ctog_bdw). The workload is
``pysim.serving.model("opt_30b").forward_workload``: the prefill of batch x 512 tokens, and the
31 decode steps interpolated between the first (a 513-row cache) and the last (543). pysim's
figure is what the link allows under each system's placement and overlap; docs/validation.md
explains why the measured systems stay below it.

    python benchmarks/validate_offload.py
"""

from __future__ import annotations

from dataclasses import dataclass

import pysim
from pysim.serving.model import model

PROMPT, GENERATED = 512, 32
SOURCE = "FlexGen (Sheng et al. ICML 2023) Table 2, T4 + 208 GB DRAM"


@dataclass(frozen=True)
class Case:
    system: str
    batch: int
    offload: str
    published_tokens_per_s: float


CASES = (
    Case("HF Accelerate (on demand)", 8, "on_demand", 0.62),
    Case("DeepSpeed ZeRO-Inference (prefetch)", 4, "prefetch", 0.60),
)


def run(case: Case) -> dict[str, float]:
    """pysim's generation throughput for ``case`` and its parts (seconds, bytes)."""
    hw = pysim.gpu.preset("t4").hardware.with_overrides(
        {"host.offload": case.offload, "host.device_weights_gib": 0})
    host = hw.host
    assert host is not None  # the preset's PCIe 3.0 x16
    opt = model("opt_30b")
    prefill = pysim.simulate(hw, opt.forward_workload(case.batch, PROMPT))
    first = pysim.simulate(hw, opt.forward_workload(case.batch, 1, PROMPT + 1))
    last = pysim.simulate(hw, opt.forward_workload(case.batch, 1, PROMPT + GENERATED - 1))
    steps = GENERATED - 1
    decode = steps * (first.latency_s + last.latency_s) / 2
    total = prefill.latency_s + decode
    link = first.host_read_bytes / host.bytes_per_s
    # the copy rate at which pysim's schedule takes the published time: the time the copies
    # do not cover (the kernels on demand; prefetched, the prefill's compute beyond its
    # copies) and the copies at that rate
    measured = case.batch * GENERATED / case.published_tokens_per_s
    passes = GENERATED  # the prefill and 31 decode steps each copy every weight in
    uncovered = total - passes * link
    implied = passes * first.host_read_bytes / (measured - uncovered)
    return {"tokens_per_s": case.batch * GENERATED / total, "prefill_s": prefill.latency_s,
            "decode_step_s": first.latency_s, "host_bytes": first.host_read_bytes,
            "link_s": link, "implied_gb_per_s": implied / 1e9,
            "link_gb_per_s": host.bytes_per_s / 1e9}


APHRODITE = ("vLLM-style offload, LLaMA-2-13B, RTX 4090", 2.4,
             "Aphrodite, dphnAI/sonar PR 598 (2024)")


def serving_decode(link: str = "pcie4_x16") -> dict[str, float]:
    """pysim's decode rate of one LLaMA-2-13B request on the RTX 4090 (host ``link``) with
    5 GiB of its weights in host memory, and the copy rate that would take the published
    time."""
    import pysim.serving as sv

    spec = sv.model("llama2_13b")
    keep = (spec.weight_bytes - 5 * 2**30) / 2**30
    hw = pysim.gpu.preset("rtx4090").hardware.with_overrides(
        {"host": {"link": link, "offload": "on_demand", "device_weights_gib": keep}})
    res = sv.serve(hw, spec, [sv.Request(0, 0.0, 100, 100)], memory_fraction=0.95)
    off = res.cost.offload
    assert off is not None
    decodes = res.iterations[res.iterations["prefill_tokens"] == 0]["seconds"]
    step = float(decodes.median())
    copies = off.bytes / off.bytes_per_s
    implied = off.bytes / (1 / APHRODITE[1] - (step - copies))
    return {"tokens_per_s": 1 / step, "offloaded_gib": off.bytes / 2**30, "step_s": step,
            "copies_s": copies, "implied_gb_per_s": implied / 1e9,
            "link_gb_per_s": off.bytes_per_s / 1e9}


def main() -> None:
    print(f"{'case':<40} {'pysim tok/s':>11} {'published':>10} {'ratio':>6}  "
          f"{'prefill':>8} {'decode step':>11} {'copies':>7} {'implied copy rate':>17}")
    for case in CASES:
        r = run(case)
        print(f"{case.system + f', batch {case.batch}':<40} {r['tokens_per_s']:>11.3f} "
              f"{case.published_tokens_per_s:>10.2f} "
              f"{r['tokens_per_s'] / case.published_tokens_per_s:>6.2f}  "
              f"{r['prefill_s']:>7.2f}s {r['decode_step_s']:>10.2f}s {r['link_s']:>6.2f}s "
              f"{r['implied_gb_per_s']:>6.2f} of {r['link_gb_per_s']:.2f} GB/s")
    name, published, source = APHRODITE
    for link in ("pcie4_x16", "pcie3_x16"):
        r = serving_decode(link)
        print(f"{name + ', ' + link:<40} {r['tokens_per_s']:>11.3f} {published:>10.2f} "
              f"{r['tokens_per_s'] / published:>6.2f}  {'':>8} {r['step_s']:>10.3f}s "
              f"{r['copies_s']:>6.3f}s {r['implied_gb_per_s']:>6.2f} of "
              f"{r['link_gb_per_s']:.2f} GB/s  ({source}; {r['offloaded_gib']:.2f} GiB "
              "offloaded, on demand)")
    print(f"published: {SOURCE}. ratio = pysim / published; pysim copies at the link's pinned "
          "rate; 'implied copy rate': the rate at which pysim's schedule takes the published "
          "time (docs/validation.md, 'Weights in host memory')")


if __name__ == "__main__":
    main()
