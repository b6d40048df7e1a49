"""``pysim serve HW MODEL``: a serving simulation from the shell, with a progress bar.

    pysim serve gpu:a100 llama2_7b --rate 4 --duration 600
    pysim serve gpu:h100 llama2_13b --trace tests/data/serving/small_trace.csv --scheduler chunked
    pysim serve gpu:a100 llama2_70b --tp 4 --rate 2 --duration 120
    pysim serve gpu:a100 llama2_7b --draft llama_68m --gamma 4 --alpha 0.8 --rate 1
"""

from __future__ import annotations

import argparse
from typing import Any

from pysim.errors import ConfigError
from pysim.progress import add_progress_arg, bar
from pysim.serving.simulator import SCHEDULERS


def add_parser(sub: Any) -> None:
    """Register ``serve`` on the CLI's subparsers."""
    p = sub.add_parser("serve", help="simulate LLM serving: requests, batching, KV cache")
    p.add_argument("hardware", help="gpu:NAME (a100, h100 ...) or a hardware YAML")
    p.add_argument("model", help="serving model: " + ", ".join(_models()))
    p.add_argument("--rate", type=float, default=4.0, help="Poisson arrivals per second")
    p.add_argument("--duration", type=float, default=600.0, help="seconds of arrivals")
    p.add_argument("--trace", help="CSV or JSON Lines trace instead of Poisson arrivals")
    p.add_argument("--prompt-tokens", type=int, nargs=2, default=(64, 1024), metavar=("LO", "HI"),
                   help="uniform prompt length range (default 64 1024)")
    p.add_argument("--output-tokens", type=int, nargs=2, default=(16, 512),
                   metavar=("LO", "HI"), help="uniform output length range (default 16 512)")
    p.add_argument("--scheduler", default="continuous", choices=list(SCHEDULERS),
                   help="static, continuous (vLLM), chunked (Sarathi) or orca (reserving)")
    p.add_argument("--max-batch", type=int, default=256)
    p.add_argument("--token-budget", type=int, default=512, help="chunked: tokens/iteration")
    p.add_argument("--block-size", type=int, default=16)
    p.add_argument("--memory-gb", type=float, help="device memory (default: the hardware's)")
    p.add_argument("--precision", default="fp16", choices=["fp16", "int8"])
    p.add_argument("--ttft-slo", type=float, help="goodput target for TTFT (s)")
    p.add_argument("--tpot-slo", type=float, help="goodput target for TPOT (s)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel devices (Megatron)")
    p.add_argument("--pp", type=int, default=1, help="pipeline-parallel stages (GPipe)")
    p.add_argument("--micro-batches", type=int, help="pipeline micro-batches (default: --pp)")
    p.add_argument("--draft", metavar="MODEL", help="speculative decoding's draft model")
    p.add_argument("--gamma", type=int, default=4, help="draft tokens per step (with --draft)")
    p.add_argument("--alpha", type=float, default=0.7,
                   help="acceptance rate per draft token, in [0, 1) (with --draft)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", metavar="FILE", help="write the per-request table")
    add_progress_arg(p)
    p.set_defaults(func=run)


def _models() -> list[str]:
    from pysim.serving.model import MODELS

    return list(MODELS)


def _hardware(text: str) -> Any:
    import pysim

    if text.startswith("gpu:"):
        return pysim.gpu.preset(text[4:])
    return pysim.load_hardware(text)


def run(args: argparse.Namespace) -> int:
    import pysim.serving as sv

    hw = _hardware(args.hardware)
    spec = sv.model(args.model, precision=args.precision)
    if args.trace:
        reqs = sv.load_trace(args.trace)
    else:
        reqs = sv.poisson(args.rate, duration_s=args.duration,
                          prompt_tokens=("uniform", *args.prompt_tokens),
                          output_tokens=("uniform", *args.output_tokens), seed=args.seed)
    if not reqs:
        raise ConfigError("no requests arrive: raise --rate or --duration")
    parallel = sv.ParallelConfig(args.tp, args.pp, args.micro_batches)
    speculative = (sv.SpeculativeConfig(args.draft, args.gamma, args.alpha)
                   if args.draft else None)
    with bar(len(reqs), "serving", "req", args.progress) as b:
        res = sv.serve(hw, spec, reqs, scheduler=args.scheduler, max_batch=args.max_batch,
                       token_budget=args.token_budget, block_size=args.block_size,
                       memory_gb=args.memory_gb, seed=args.seed, parallel=parallel,
                       speculative=speculative, progress=b.update)
    s = res.summary(args.ttft_slo, args.tpot_slo)
    extra = f", tp {args.tp} x pp {args.pp}" if parallel.devices > 1 else ""
    if speculative is not None:
        extra += (f", draft {args.draft} gamma {args.gamma} alpha {args.alpha:g} "
                  f"({speculative.expected_tokens:.2f} tokens/step expected)")
    print(f"{spec.name} on {getattr(hw, 'name', args.hardware)}, {args.scheduler}{extra}: "
          f"{s.requests} requests, KV cache {res.kv_blocks} blocks of {res.block_size} tokens")
    rows = [("makespan", f"{s.makespan_s:.2f} s"),
            ("throughput", f"{s.throughput_tokens_per_s:.1f} tokens/s, "
                           f"{s.throughput_requests_per_s:.3f} requests/s"),
            ("TTFT p50/p90/p99", f"{s.ttft_p50_s:.3f} / {s.ttft_p90_s:.3f} / "
                                 f"{s.ttft_p99_s:.3f} s"),
            ("TPOT p50/p90/p99", f"{s.tpot_p50_s * 1e3:.1f} / {s.tpot_p90_s * 1e3:.1f} / "
                                 f"{s.tpot_p99_s * 1e3:.1f} ms"),
            ("end-to-end p50/p90/p99", f"{s.e2e_p50_s:.2f} / {s.e2e_p90_s:.2f} / "
                                       f"{s.e2e_p99_s:.2f} s"),
            ("preemptions", str(s.preemptions)),
            ("KV utilisation mean/peak", f"{s.kv_utilisation_mean:.1%} / "
                                         f"{s.kv_utilisation_peak:.1%}"),
            ("energy per token", f"{s.energy_per_token_j:.3f} J"),
            ("iterations", f"{s.iterations} ({res.cost.calls} simulations)")]
    if s.goodput_requests_per_s is not None:
        rows.append(("goodput", f"{s.goodput_requests_per_s:.3f} requests/s"))
    for k, v in rows:
        print(f"  {k:<26} {v}")
    if args.csv:
        res.requests.to_csv(args.csv, index=False)
    return 0


__all__ = ["add_parser", "run"]
