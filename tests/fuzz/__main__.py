"""``python -m tests.fuzz``: run the fuzzer and print a table of outcomes and the failures.

    python -m tests.fuzz                                # 20,000 core + 1,000 api + 40 cli calls
    python -m tests.fuzz --calls 1000000 --api-calls 20000 --cli-calls 400   # the long run
    python -m tests.fuzz --target core --seed 0 --replay 74                    # one case again
    python -m tests.fuzz --target core --max-work 2^24     # the CI run (tests/test_fuzz_ci.py)

The table counts, per target: ok (returned and checked), clean (a clear error), skipped (core
calls over --max-work, not made), and the failures: wrong (a wrong answer, or a non-finite
result accepted), unclear (any other exception, an unclear message, a traceback, a CLI exit
code other than 0 and 2), crash (a signal or an exit inside a case) and hang (no answer within
--timeout). Exit status: 0 when no case failed, 1 otherwise."""

from __future__ import annotations

import argparse
import sys

from tests.fuzz.runner import FAILURE_KINDS, Tally, replay, run_batched, run_cli

KINDS = ("ok", "clean", "skipped", *FAILURE_KINDS)


def _steps(text: str) -> float:
    """A step count: 16777216, 1.7e7 or 2^24."""
    base, sep, exponent = text.partition("^")
    try:
        return float(int(base) ** int(exponent)) if sep else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 2^N, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls", type=int, default=20_000, help="core calls (default 20000)")
    parser.add_argument("--api-calls", type=int, default=1_000,
                        help="Python API cases (default 1000)")
    parser.add_argument("--cli-calls", type=int, default=40,
                        help="CLI subprocesses (default 40; about a second each)")
    parser.add_argument("--target", choices=["all", "core", "api", "cli"], default="all")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds one case may take before it counts as a hang")
    parser.add_argument("--max-work", type=_steps, metavar="STEPS",
                        help="skip core calls into a stepped loop (the cycle-stepped references, "
                             "SCALE-Sim's fold loop) estimated to take more than STEPS native "
                             "steps if accepted (e.g. 2^24; default: make every call)")
    parser.add_argument("--replay", type=int, metavar="INDEX",
                        help="run case INDEX of --target and --seed in this process")
    parser.add_argument("--show", type=int, default=30, help="failures to print (default 30)")
    args = parser.parse_args(argv)
    if args.replay is not None:
        if args.target == "all":
            parser.error("--replay needs --target core, api or cli")
        print(replay(args.target, args.seed, args.replay))
        return 0
    tally = Tally()
    targets = ["core", "api", "cli"] if args.target == "all" else [args.target]
    for target in targets:
        if target == "cli":
            run_cli(args.seed, args.cli_calls, args.timeout, tally)
        else:
            calls = args.calls if target == "core" else args.api_calls
            run_batched(target, args.seed, calls, args.timeout, tally,
                        max_work=args.max_work if target == "core" else None)
    print(f"seed {args.seed}" + (f", --max-work {args.max_work:.4g}" if args.max_work else ""))
    print(f"{'target':<8}{'calls':>9}" + "".join(f"{k:>9}" for k in KINDS) + f"{'seconds':>9}")
    for target in targets:
        row = [tally.counts[(target, k)] for k in KINDS]
        print(f"{target:<8}{sum(row):>9}" + "".join(f"{n:>9}" for n in row)
              + f"{tally.seconds.get(target, 0.0):>9.1f}")
    total = [sum(tally.counts[(t, k)] for t in targets) for k in KINDS]
    print(f"{'total':<8}{sum(total):>9}" + "".join(f"{n:>9}" for n in total))
    if tally.failures:
        print(f"\n{len(tally.failures)} failure(s):")
        for f in tally.failures[:args.show]:
            print(f"- [{f.kind}] {f.detail}\n    {f.what}\n    replay: {f.reproducer()}")
        if len(tally.failures) > args.show:
            print(f"... {len(tally.failures) - args.show} more (--show N)")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
