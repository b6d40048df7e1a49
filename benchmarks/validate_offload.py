"""Weights in host memory (``host.offload``, pysim/config/host.py) against published offloading
throughputs: prints pysim's figure, the published one, their ratio and the source.

Generation throughput = batch x 32 / (prefill + decode latency) for prompts of 512 tokens and
32 generated tokens, every weight in host memory (``device_weights_gib: 0``), the workload
``pysim.serving.model(...).forward_workload``: the prefill of batch x 512 tokens, and the 31
decode steps interpolated between the first (a 513-row cache) and the last (543).

1. FlexGen's baselines (Sheng et al., "FlexGen", ICML 2023, Table 2; the repository's
   benchmark/batch_size_table.md gives each system's batch, benchmark/hf_ds/hf_opt.py how it
   ran): OPT-30B in fp16 on one NVIDIA T4 (16 GB, PCIe 3.0 x16) of a GCP instance with 208 GB
   of DRAM. Hugging Face Accelerate, batch 8, 0.62 token/s: every decoder layer on the CPU,
   copied in by Accelerate's hooks when called (``on_demand``). DeepSpeed ZeRO-Inference, batch
   4, 0.60 token/s: ZeRO-3, every parameter offloaded to pinned memory and prefetched
   (``prefetch``). pysim's t4 preset copies at the default achieved rate, 0.88 of 15.75 GB/s:
   FlexGen's own fit of this machine's CPU-to-GPU copies, 12.89 GiB/s (flexgen/cost_model.py,
   ctog_bdw).
2. ZeRO-Inference with 4-bit weights (microsoft/DeepSpeedExamples,
   inference/huggingface/zero_inference/README.md, "Comparison with SOTA Throughput-Oriented
   Inference Framework", the rows with weight quantization and no KV-cache offload): one RTX
   A6000 (48 GB, PCIe 4.0 x16) with 252 GB of host memory, every weight offloaded (its
   run_model.sh runs OPT-30B's with --cpu-offload --pin-memory 1 --quant_bit 4): OPT-30B at
   batch 24, 21.84 token/s; LLaMA-2-70B at batch 96, 23.44. pysim runs ``precision="w4a16"`` (4-bit
   linear weights in groups of 128 with fp16 scales and zero points; ZeRO-Inference's default
   groups are 64 and it quantizes the embeddings too: about 3 % more bytes) on the a6000 preset,
   prefetched.
3. One serving figure (pysim.serving, pysim/serving/offload.py): the Aphrodite engine's port of
   vLLM's ``--cpu-offload-gb`` (dphnAI/sonar pull request 598, A. Dale, Aug 2024: "Llama-2 13B
   @ FP16, RTX 4090, offloaded 5 GiB, decode 2.4 tok/s"), which copies an offloaded layer's
   parameters in from pinned memory before its forward (``on_demand``); pysim serves one request
   on the rtx4090 preset (PCIe 4.0 x16) keeping all but 5 GiB on the device, at a memory
   fraction of 0.95 (at vLLM's 0.9 the 4096-token cache would not fit beside them). The pull
   request does not state the PC's PCIe link; a second row runs the same on PCIe 3.0 x16 (or
   4.0 x8).

pysim's figure is what the link allows under each system's placement and overlap;
docs/validation.md explains why the measured systems stay below it.

    python benchmarks/validate_offload.py
"""

from __future__ import annotations

from dataclasses import dataclass

import pysim
from pysim.serving.model import model

PROMPT, GENERATED = 512, 32
FLEXGEN = "FlexGen (Sheng et al. ICML 2023) Table 2"
ZERO = "DeepSpeedExamples zero_inference README (2023)"


@dataclass(frozen=True)
class Case:
    system: str
    gpu: str
    llm: str
    precision: str
    batch: int
    offload: str
    published_tokens_per_s: float
    source: str


CASES = (
    Case("HF Accelerate, OPT-30B", "t4", "opt_30b", "fp16", 8, "on_demand", 0.62, FLEXGEN),
    Case("ZeRO-Inference, OPT-30B", "t4", "opt_30b", "fp16", 4, "prefetch", 0.60, FLEXGEN),
    Case("ZeRO-Inference 4-bit, OPT-30B", "a6000", "opt_30b", "w4a16", 24, "prefetch", 21.84,
         ZERO),
    Case("ZeRO-Inference 4-bit, LLaMA-2-70B", "a6000", "llama2_70b", "w4a16", 96, "prefetch",
         23.44, ZERO),
)


def run(case: Case) -> dict[str, float]:
    """pysim's generation throughput for ``case`` and its parts (seconds, bytes)."""
    hw = pysim.gpu.preset(case.gpu).hardware.with_overrides(
        {"host.offload": case.offload, "host.device_weights_gib": 0})
    host = hw.host
    assert host is not None  # the preset's PCIe link
    llm = model(case.llm, precision=case.precision)
    prefill = pysim.simulate(hw, llm.forward_workload(case.batch, PROMPT))
    first = pysim.simulate(hw, llm.forward_workload(case.batch, 1, PROMPT + 1))
    last = pysim.simulate(hw, llm.forward_workload(case.batch, 1, PROMPT + GENERATED - 1))
    steps = GENERATED - 1
    decode = steps * (first.latency_s + last.latency_s) / 2
    total = prefill.latency_s + decode
    link = first.host_read_bytes / host.bytes_per_s
    # the copy rate at which pysim's schedule takes the published time: the time the copies
    # do not cover (the kernels on demand; prefetched, the compute beyond the copies) and the
    # copies at that rate
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
    print(f"{'case':<60} {'pysim tok/s':>11} {'published':>9} {'ratio':>6}  {'prefill':>8} "
          f"{'decode step':>11} {'copies':>7} {'implied copy rate':>21}  source")
    for case in CASES:
        r = run(case)
        name = f"{case.system}, {case.gpu}, {case.offload}, batch {case.batch}"
        print(f"{name:<60} {r['tokens_per_s']:>11.3f} {case.published_tokens_per_s:>9.2f} "
              f"{r['tokens_per_s'] / case.published_tokens_per_s:>6.2f}  "
              f"{r['prefill_s']:>7.2f}s {r['decode_step_s']:>10.2f}s {r['link_s']:>6.2f}s "
              f"{r['implied_gb_per_s']:>6.2f} of {r['link_gb_per_s']:>6.2f} GB/s  {case.source}")
    name, published, source = APHRODITE
    for link in ("pcie4_x16", "pcie3_x16"):
        r = serving_decode(link)
        print(f"{name + ', ' + link:<60} {r['tokens_per_s']:>11.3f} {published:>9.2f} "
              f"{r['tokens_per_s'] / published:>6.2f}  {'':>8} {r['step_s']:>10.3f}s "
              f"{r['copies_s']:>6.3f}s {r['implied_gb_per_s']:>6.2f} of "
              f"{r['link_gb_per_s']:>6.2f} GB/s  {source} ({r['offloaded_gib']:.2f} GiB "
              "offloaded, on demand, one request)")
    print("ratio = pysim / published; pysim copies at the link's pinned rate; 'implied copy "
          "rate': the rate at which pysim's schedule takes the published time "
          "(docs/validation.md, 'Weights in host memory')")


if __name__ == "__main__":
    main()
