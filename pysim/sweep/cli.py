"""``pysim sweep`` and ``pysim plot``: sweeps and their plots from a shell.

    pysim sweep SPACE.yaml HW.yaml WL.yaml [WL ...] -o runs.parquet [--jobs N]
                [--scheduler tcp://host:8786] [--random N --seed S]
                [--train [--optimizer adam] [--recipe int8]]
    pysim plot pareto runs.parquet --x latency_s --y energy_j -o pareto.png [--sweep ID]
    pysim plot {energy,roofline,utilization} HW.yaml WL.yaml -o out.png

SPACE.yaml maps dotted hardware paths to lists of values (``units.0.rows: [16, 32, 64]``);
a range is ``{low: L, high: H}`` and needs ``--random N``. A workload is a YAML path or
``zoo:NAME[:key=value,...]``, as for ``pysim run``. A file can hold several sweeps (a widened
space resumed into it): ``pysim sweep`` prints the id of the one it wrote, and ``pysim plot
pareto`` plots one of them (``--sweep ID``; a file of several needs it). docs/sweeps.md has the
details.
"""

from __future__ import annotations

import argparse
from typing import Any

from pysim.errors import ConfigError
from pysim.progress import add_progress_arg


def add_commands(sub: Any) -> None:
    """Add the ``sweep`` and ``plot`` subcommands to ``pysim``'s subparsers."""
    sweep = sub.add_parser("sweep", help="simulate every point of a design space",
                           description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("space", help="space YAML: dotted path -> list of values")
    sweep.add_argument("hardware", help="base hardware YAML (e.g. configs/edge_npu.yaml), or "
                       "gpu:NAME")
    sweep.add_argument("workloads", nargs="+", metavar="workload",
                       help="workload YAML, or zoo:NAME[:key=value,...] (one or more)")
    sweep.add_argument("-o", "--out", required=True, metavar="FILE.parquet",
                       help="Parquet file to write (and to resume from if it exists)")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="local worker processes (default 1; -1: all cores)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="Dask scheduler to run on, e.g. tcp://host:8786")
    sweep.add_argument("--random", type=int, metavar="N",
                       help="N random points of the space instead of the whole grid")
    sweep.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    sweep.add_argument("--train", action="store_true",
                       help="each point simulates one training step of each workload "
                            "(pysim.training.step; a zoo CNN in its training form), not a "
                            "forward pass")
    sweep.add_argument("--optimizer", default=None,
                       help="with --train: the optimizer (default adam)")
    sweep.add_argument("--recipe", default=None,
                       help="with --train: the training recipe (default mixed_bf16)")
    add_progress_arg(sweep)
    sweep.set_defaults(func=_cmd_sweep)

    plot = sub.add_parser("plot", help="plot a sweep's Pareto front, or one run per op")
    kinds = plot.add_subparsers(dest="plot_kind", metavar="KIND", required=True)
    front = kinds.add_parser("pareto", help="Pareto scatter of a sweep's Parquet file")
    front.add_argument("runs", help="Parquet file written by pysim sweep")
    front.add_argument("--x", default="latency_s", help="column on x (default latency_s)")
    front.add_argument("--y", default="energy_j", help="column on y (default energy_j)")
    front.add_argument("--maximize", action="append", default=[], metavar="COLUMN",
                       help="maximise this axis' column instead of minimising it")
    front.add_argument("--workload", help="only rows of this workload")
    front.add_argument("--sweep", metavar="ID", help="the sweep to plot, by the id pysim sweep "
                       "printed (needed when the file holds several)")
    front.add_argument("-o", "--out", required=True, metavar="FILE.png", help="image to write")
    front.set_defaults(func=_cmd_plot_pareto)
    for kind, text in (("energy", "energy per op, stacked by component"),
                       ("roofline", "roofline with each MAC op placed"),
                       ("utilization", "utilisation of each op's unit")):
        p = kinds.add_parser(kind, help=text)
        p.add_argument("hardware", help="hardware YAML, or gpu:NAME (configs/gpu/NAME.yaml)")
        p.add_argument("workload", help="workload YAML, or zoo:NAME[:key=value,...]")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a hardware field by dotted path (repeatable)")
        p.add_argument("-o", "--out", required=True, metavar="FILE.png", help="image to write")
        p.set_defaults(func=_cmd_plot_run, plot_kind=kind)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from pysim.cli import _load_hardware_arg, _load_workload_arg
    from pysim.sweep import Space, pareto, sweep

    space = Space.from_yaml(args.space)
    if args.random is not None:
        space = space.random(args.random, seed=args.seed)
    hw = _load_hardware_arg(args.hardware, [])
    try:  # a key the hardware lacks: name the space file
        space.check(hw)
    except ConfigError as exc:
        raise ConfigError(f"{args.space}: {exc}") from None
    training = None
    if args.train:
        from pysim.training.step import training_form

        training = {k: v for k, v in (("optimizer", args.optimizer), ("recipe", args.recipe))
                    if v is not None}
        wls = [training_form(w) for w in args.workloads]
    elif args.optimizer is not None or args.recipe is not None:
        raise ConfigError("--optimizer and --recipe set a training step: add --train")
    else:
        wls = [_load_workload_arg(w) for w in args.workloads]
    import signal

    def _terminated(signum: int, frame: object) -> None:  # SIGTERM: stop as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminated)
    df = sweep(hw, wls, space, jobs=args.jobs, scheduler=args.scheduler, out=args.out,
               progress=args.progress, training=training)
    errors = int(df["error"].notna().sum())
    print(f"wrote {args.out}: {len(df)} rows ({df.attrs['computed']} computed, "
          f"{df.attrs['reused']} reused), {errors} invalid point{'' if errors == 1 else 's'}")
    _print_sweep_id(args.out, str(df["sweep_id"].iloc[0]))
    cols = [*space.keys, "latency_s", "energy_j", "area_mm2"]
    for name, rows in df.groupby("workload", sort=False):
        front = pareto(rows, minimize=["latency_s", "energy_j"])
        print(f"\n{name}: Pareto front of latency_s and energy_j ({len(front)} points)")
        print(front[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if errors:
        first = df.loc[df["error"].notna(), "error"].iloc[0]
        print(f"\nfirst invalid point: {first}")
    return 0


def _print_sweep_id(out: str, sweep_id: str) -> None:
    """The id of the sweep just written, and the file's other sweeps if any."""
    import pandas as pd

    others = [i for i in dict.fromkeys(pd.read_parquet(out, columns=["sweep_id"])["sweep_id"])
              if isinstance(i, str) and i != sweep_id]
    also = (f"; {out} also holds sweep{'s' if len(others) > 1 else ''} {', '.join(others)} "
            f"(pysim plot pareto {out} --sweep {sweep_id} plots this one)" if others else "")
    print(f"sweep id {sweep_id}{also}")


def _cmd_plot_pareto(args: argparse.Namespace) -> int:
    import pandas as pd

    from pysim import plot
    from pysim.sweep.stored import describe, select, sweeps

    try:
        df = pd.read_parquet(args.runs)
    except FileNotFoundError:
        raise OSError(f"{args.runs}: file not found") from None
    found = sweeps(df)
    if args.sweep is not None:
        try:
            df = select(df, args.sweep)
        except ValueError as exc:
            raise ValueError(f"{args.runs}: {exc}") from None
    elif len(found) > 1:
        raise ValueError(f"{args.runs} holds {len(found)} sweeps; plot one with --sweep ID: "
                         + "; ".join(describe(k, v) for k, v in found.items()))
    elif found:
        df = select(df, next(iter(found)))
    chosen = args.sweep if args.sweep is not None else next(iter(found), None)
    if args.workload is not None:
        if "workload" not in df.columns or args.workload not in set(df["workload"]):
            known = sorted(set(df["workload"])) if "workload" in df.columns else []
            raise ValueError(f"no rows of workload {args.workload!r}; workloads: {known}")
        df = df[df["workload"] == args.workload]
    ax = plot.pareto(df, x=args.x, y=args.y, maximize=args.maximize)
    if chosen is not None:
        ax.set_title(f"{ax.get_title()} (sweep {chosen})", fontsize=10)
    ax.figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}" + (f" (sweep {chosen})" if chosen is not None else ""))
    return 0


def _cmd_plot_run(args: argparse.Namespace) -> int:
    from pysim import plot
    from pysim.cli import _load_hardware_arg, _load_workload_arg
    from pysim.simulate import simulate

    hw = _load_hardware_arg(args.hardware, args.set)
    res = simulate(hw, _load_workload_arg(args.workload))
    if args.plot_kind == "energy":
        ax = plot.energy_breakdown(res)
    elif args.plot_kind == "roofline":
        ax = plot.roofline(res, hw)
    else:
        ax = plot.utilization(res, hw)
    ax.figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0
