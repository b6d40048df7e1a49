"""pysim command line. ``pysim --help`` lists the subcommands; each has its own ``--help``."""

from __future__ import annotations

import argparse
import sys

from pysim.errors import ConfigError, WorkloadError


def _cmd_gemm(args: argparse.Namespace) -> int:
    from pysim.units.systolic_array import SystolicArray

    array = SystolicArray(args.rows, args.cols, args.dataflow, args.timing)
    cost = array.cost(args.m, args.n, args.k)
    for key, value in cost.to_dict().items():
        print(f"{key:>20}  {value:.6g}" if isinstance(value, float) else f"{key:>20}  {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pysim", description="Hardware-software co-design simulator for DNN accelerators."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gemm = sub.add_parser("gemm", help="cost of one GEMM on a systolic array")
    gemm.add_argument("m", type=int, help="rows of A and C (batch x output pixels)")
    gemm.add_argument("n", type=int, help="columns of B and C (filters)")
    gemm.add_argument("k", type=int, help="reduction length")
    gemm.add_argument("--rows", type=int, default=32, help="array rows (default 32)")
    gemm.add_argument("--cols", type=int, default=32, help="array columns (default 32)")
    gemm.add_argument("--dataflow", default="os", choices=["os", "ws", "is"])
    gemm.add_argument("--timing", default="scalesim", choices=["scalesim", "pipelined"])
    gemm.set_defaults(func=_cmd_gemm)

    from pysim.scalesim import cli as scalesim_cli

    scalesim = sub.add_parser(
        "scalesim",
        help="run a SCALE-Sim config and topology, write SCALE-Sim's report CSVs",
        description=scalesim_cli.__doc__,
    )
    scalesim_cli.add_arguments(scalesim)
    scalesim.set_defaults(func=scalesim_cli.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ConfigError, WorkloadError, ValueError, OSError) as exc:
        print(f"pysim {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
