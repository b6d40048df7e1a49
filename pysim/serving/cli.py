"""``pysim serve HW MODEL``: a serving simulation from the shell, with a progress bar.

    pysim serve gpu:a100 llama2_7b --rate 4 --duration 600
    pysim serve gpu:h100 llama2_13b --trace tests/data/serving/small_trace.csv --scheduler chunked
    pysim serve gpu:a100 llama2_70b --tp 4 --rate 2 --duration 120
    pysim serve gpu:a100 llama2_7b --draft llama_68m --gamma 4 --alpha 0.8 --rate 1
    pysim serve gpu:a100 llama2_7b --kv-policy h2o --kv-budget 0.2 --preemption swap
    pysim serve gpu:h100 mixtral_8x7b --precision int8 --routing zipf:1.2 --skip 0.25
"""

from __future__ import annotations

import argparse
from typing import Any

from pysim.errors import ConfigError
from pysim.progress import add_progress_arg, bar
from pysim.serving.simulator import PREEMPTION, RESERVATIONS, SCHEDULERS

KV_POLICIES = ("full", "window", "h2o", "cake")


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
    p.add_argument("--offload", metavar="MODE",
                   help="weights that do not fit: on_demand or prefetch from host memory over "
                        "the hardware's host link (default: its host.offload)")
    p.add_argument("--precision", default="fp16", choices=["fp16", "int8", "w4a16"],
                   help="fp16, int8, or w4a16 (4-bit weights in groups of 128, AWQ / GPTQ)")
    p.add_argument("--ttft-slo", type=float, help="goodput target for TTFT (s)")
    p.add_argument("--tpot-slo", type=float, help="goodput target for TPOT (s)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel devices (Megatron)")
    p.add_argument("--pp", type=int, default=1, help="pipeline-parallel stages (GPipe)")
    p.add_argument("--micro-batches", type=int, help="pipeline micro-batches (default: --pp)")
    p.add_argument("--draft", metavar="MODEL", help="speculative decoding's draft model")
    p.add_argument("--gamma", type=int, default=4, help="draft tokens per step (with --draft)")
    p.add_argument("--alpha", type=float, default=0.7,
                   help="acceptance rate per draft token, in [0, 1) (with --draft)")
    p.add_argument("--kv-policy", default="full", metavar="POLICY",
                   help="KV-cache policy: full, window (StreamingLLM: --kv-budget tokens "
                        "recent + --kv-sink first), h2o (heavy hitters) or cake (layer-wise)")
    p.add_argument("--kv-budget", metavar="B",
                   help="cache budget per sequence: tokens (an int >= 1) or a fraction of the "
                        "prompt in (0, 1] (h2o, cake); tokens only for window")
    p.add_argument("--kv-sink", type=int, default=4, help="window: first tokens kept (4)")
    p.add_argument("--preemption", default="recompute", metavar="MODE",
                   help="when the cache is full: recompute or swap (to host memory)")
    p.add_argument("--host-bandwidth", type=float, default=None, metavar="GB_PER_S",
                   help="swap link bandwidth (default: the hardware's host link; 32 without)")
    p.add_argument("--reservation", default="max", metavar="WHAT",
                   help="orca scheduler's reservation per request: max, pow2 or oracle")
    p.add_argument("--routing", default="uniform", metavar="ROUTING",
                   help="MoE routing: uniform, zipf:S (share of expert i ~ 1/(i+1)^S) or "
                        "trace:FILE (CSV of expert token counts per iteration, replayed)")
    p.add_argument("--exit-after", metavar="L:P[,L:P...]",
                   help="early exit: probability P that a decode token leaves after layer L "
                        "(1-based), e.g. 16:0.3,24:0.2")
    p.add_argument("--skip", metavar="P|L:P[,L:P...]",
                   help="layer skipping: every layer's skip probability P, or per layer")
    p.add_argument("--rebatch", action="store_true",
                   help="with --exit-after / --skip: cost follows the mean depth, not the "
                        "deepest token")
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


def _bad(flag: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{flag} {value!s}: {allowed}")


def _choice(flag: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _bad(flag, value, f"must be one of {', '.join(choices)}")
    return value


def _prob(flag: str, text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        p = float("nan")
    if not 0 <= p <= 1:
        raise _bad(flag, text, "probabilities must be numbers in [0, 1]")
    return p


def _per_layer(flag: str, text: str, layers: int) -> list[float]:
    """``L:P,L:P`` (1-based layers) as a list of ``layers`` probabilities."""
    out = [0.0] * layers
    for item in text.split(","):
        layer, sep, prob = item.partition(":")
        if not sep or not layer.strip().isdigit() or not 1 <= int(layer) <= layers:
            raise _bad(flag, text, f"expected L:P[,L:P...] with layers L in 1..{layers}")
        out[int(layer) - 1] = _prob(flag, prob)
    return out


def kv_policy(args: argparse.Namespace) -> Any:
    """The KVPolicy of ``--kv-policy`` / ``--kv-budget`` / ``--kv-sink``."""
    import pysim.serving as sv

    policy = _choice("--kv-policy", args.kv_policy, KV_POLICIES)
    text = args.kv_budget
    if policy == "full":
        if text is not None:
            raise _bad("--kv-budget", text, "needs --kv-policy window, h2o or cake")
        return sv.FullCache()
    if text is None:
        raise ConfigError(f"--kv-policy {policy} needs --kv-budget (tokens, or a fraction of "
                          f"the prompt in (0, 1])")
    budget: int | float
    try:
        budget = int(text)
    except ValueError:
        try:
            budget = float(text)
        except ValueError:
            budget = -1
    if policy == "window":
        if not isinstance(budget, int) or budget < 1:
            raise _bad("--kv-budget", text, "window takes a token count, an int >= 1")
        if args.kv_sink < 0:
            raise _bad("--kv-sink", args.kv_sink, "must be an int >= 0")
        return sv.RecentWindow(budget, sink=args.kv_sink)
    if not ((isinstance(budget, int) and budget >= 1)
            or (isinstance(budget, float) and 0 < budget <= 1)):
        raise _bad("--kv-budget", text, "must be tokens (an int >= 1) or a fraction of the "
                                         "prompt in (0, 1]")
    return sv.HeavyHitter(budget) if policy == "h2o" else sv.Cake(budget)


def routing(args: argparse.Namespace, spec: Any) -> Any:
    """The Routing of ``--routing``."""
    import pysim.serving as sv

    text = args.routing
    kind, _, arg = text.partition(":")
    if text != "uniform" and spec.experts == 1:
        raise _bad("--routing", text, f"applies to mixture-of-experts models; {spec.name} has "
                                      f"one FFN")
    if text == "uniform":
        return sv.Routing()
    if kind == "zipf":
        try:
            skew = float(arg)
        except ValueError:
            skew = float("nan")
        if not 0 <= skew < float("inf"):
            raise _bad("--routing", text, "zipf:S takes a finite skew S >= 0")
        return sv.Routing(("zipf", skew))
    if kind == "trace" and arg:
        r = sv.Routing.from_csv(arg)
        r.probabilities(spec.experts)  # the expert count must match the model's
        return r
    raise _bad("--routing", text, "must be uniform, zipf:S or trace:FILE")


def depth_profile(args: argparse.Namespace, spec: Any) -> tuple[Any, Any]:
    """(ExitProfile or None, LayerSkip or None) of ``--exit-after`` / ``--skip``."""
    import pysim.serving as sv

    if args.exit_after and args.skip:
        raise ConfigError("--exit-after and --skip: give one (early exit or layer skipping)")
    if args.rebatch and not (args.exit_after or args.skip):
        raise ConfigError("--rebatch needs --exit-after or --skip")
    if args.exit_after:
        probs = _per_layer("--exit-after", args.exit_after, spec.layers)
        if sum(probs) > 1 + 1e-9:
            raise _bad("--exit-after", args.exit_after, "the exit probabilities must sum to "
                                                        "at most 1")
        return sv.ExitProfile(probs, rebatch=args.rebatch), None
    if args.skip:
        skip: float | list[float] = (_per_layer("--skip", args.skip, spec.layers)
                                     if ":" in args.skip else _prob("--skip", args.skip))
        return None, sv.LayerSkip(skip, rebatch=args.rebatch)
    return None, None


def run(args: argparse.Namespace) -> int:
    import pysim.serving as sv
    from pysim.serving.requests import MAX_REQUESTS

    preemption = _choice("--preemption", args.preemption, PREEMPTION)
    reservation = _choice("--reservation", args.reservation, RESERVATIONS)
    if args.host_bandwidth is not None and (not args.host_bandwidth > 0
                                            or args.host_bandwidth == float("inf")):
        raise _bad("--host-bandwidth", args.host_bandwidth, "must be a finite number > 0")
    policy = kv_policy(args)
    if not args.trace:
        for flag, v in (("--rate", args.rate), ("--duration", args.duration)):
            if not 0 < v < float("inf"):
                raise _bad(flag, v, "must be a finite number > 0")
        if args.rate * args.duration > MAX_REQUESTS:
            raise ConfigError(f"--rate {args.rate:g} x --duration {args.duration:g} = "
                              f"{args.rate * args.duration:.3g} expected requests; at most "
                              f"{MAX_REQUESTS:,}")
    hw = _hardware(args.hardware)
    if args.offload is not None:
        from pysim.config.host import OFFLOAD_MODES, with_offload
        from pysim.serving.offload import hardware_of

        hw = with_offload(hardware_of(hw), _choice("--offload", args.offload, OFFLOAD_MODES))
    spec = sv.model(args.model, precision=args.precision)
    route = routing(args, spec)
    exit_profile, skip = depth_profile(args, spec)
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
                       speculative=speculative, kv_policy=policy, preemption=preemption,
                       host_bandwidth_gb_per_s=args.host_bandwidth, reservation=reservation,
                       routing=route, exit_profile=exit_profile, layer_skip=skip,
                       progress=b.update)
    s = res.summary(args.ttft_slo, args.tpot_slo)
    extra = f", tp {args.tp} x pp {args.pp}" if parallel.devices > 1 else ""
    if args.kv_policy != "full":
        extra += f", KV {args.kv_policy} {args.kv_budget}"
    if speculative is not None:
        extra += (f", draft {args.draft} gamma {args.gamma} alpha {args.alpha:g} "
                  f"({speculative.expected_tokens:.2f} tokens/step expected)")
    if res.cost.offload is not None:
        extra += (f", {res.cost.offload.bytes / 1e9:.1f} GB of weights in host memory "
                  f"({res.cost.offload.mode})")
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


__all__ = ["KV_POLICIES", "add_parser", "depth_profile", "kv_policy", "routing", "run"]
