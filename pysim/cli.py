"""pysim command line. ``pysim --help`` lists the subcommands; each has its own ``--help``."""

from __future__ import annotations

import argparse
import dis
import linecache
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from pysim import quantity_format as fmt
from pysim.errors import ConfigError, MissingExtra, WorkloadError
from pysim.progress import add_progress_arg


def _cmd_gemm(args: argparse.Namespace) -> int:
    from pysim.units.systolic_array import SystolicArray

    array = SystolicArray(args.rows, args.cols, args.dataflow, args.timing)
    cost = array.cost(args.m, args.n, args.k)
    for key, value in cost.to_dict().items():
        print(f"{key:>20}  {value:.6g}" if isinstance(value, float) else f"{key:>20}  {value}")
    return 0


def _parse_sets(items: list[str]) -> dict[str, str | float | int]:
    from pysim.zoo import parse_value

    out: dict[str, str | float | int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. dram.bandwidth_gb_per_s=12.8), "
                              f"got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def _load_workload_arg(text: str, args: argparse.Namespace | None = None):  # noqa: ANN202
    """A workload from a path (YAML or ONNX) or ``[zoo:]NAME[:key=value,...]`` (a bare zoo name
    where no such file exists, as ``pysim train`` takes one)."""
    from pysim.workload import as_workload, load_workload

    if text.endswith(".onnx") and args is not None:
        dims = _parse_sets(getattr(args, "dim", []) or [])
        return load_workload(text, batch=args.batch, quantize_bits=args.quantize_bits,
                             allow_unsupported=args.allow_unsupported, **dims)
    return as_workload(text)


def _load_hardware_arg(text: str, sets: list[str]):  # noqa: ANN202 - a Hardware
    """A hardware YAML or ``gpu:NAME`` (a GPU preset's hardware, configs/gpu/NAME.yaml), with
    ``--set`` overrides."""
    if text.startswith("gpu:"):
        from pysim import gpu

        hw = gpu.preset(text[4:]).hardware
    else:
        from pysim.config import load_hardware

        hw = load_hardware(text)
    return hw.with_overrides(_parse_sets(sets)) if sets else hw


def _print_mappings(res, names: list[str]) -> int:  # noqa: ANN001 - a Result
    """The loop nest of each named MAC op (``all``: every one). Exit 2 naming an unknown op."""
    rows = res.layers[res.layers["mapping"].notna()] if "mapping" in res.layers else None
    if rows is None or rows.empty:
        print(f"pysim run: error: --mapping: {res.workload} on {res.hardware} has no op with a "
              "tiled mapping", file=sys.stderr)
        return 2
    wanted = list(rows["op"]) if names == ["all"] else names
    known = set(rows["op"])
    unknown = [n for n in wanted if n not in known]
    if unknown:
        print(f"pysim run: error: --mapping {unknown[0]!r} is not a mapped MAC op of "
              f"{res.workload}; ops: {', '.join(sorted(known)[:12])}"
              + (", ..." if len(known) > 12 else ""), file=sys.stderr)
        return 2
    for name in wanted:
        mapping = rows.loc[rows["op"] == name, "mapping"].iloc[0]
        print(f"{name}: {mapping.loop_nest()}\n")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from pysim.simulate import simulate

    hw = _load_hardware_arg(args.hardware, args.set)
    res = simulate(hw, _load_workload_arg(args.workload, args), progress=args.progress)
    if args.csv:
        res.layers.to_csv(args.csv, index=False)
    if args.json:
        print(res.to_json())
        return 0
    if args.mapping:
        return _print_mappings(res, args.mapping)
    cols = ["op", "type", "unit", "cycles", "stall_cycles", "macs", "dram_read_bytes",
            "dram_write_bytes", "energy_j"]
    table = res.layers[cols].copy()
    table["cycles"] = table["cycles"].round().astype("int64")
    table["stall_cycles"] = table["stall_cycles"].round().astype("int64")
    shown = table if args.layers == "all" else table.nlargest(int(args.layers), "cycles",
                                                               keep="first").sort_index()
    table = shown.assign(dram_read_bytes=shown["dram_read_bytes"].map(fmt.nbytes),
                         dram_write_bytes=shown["dram_write_bytes"].map(fmt.nbytes),
                         energy_j=shown["energy_j"].map(fmt.joules))
    print(table.rename(columns={"dram_read_bytes": "dram read", "dram_write_bytes":
                                "dram write", "energy_j": "energy"}).to_string(index=False))
    hidden = len(res.layers) - len(shown)
    if hidden:
        print(f"... {hidden} more ops (the {len(shown)} longest shown; --layers all for every "
              "op)")
    print()
    print(f"hardware        {res.hardware}")
    print(f"workload        {res.workload}  ({res.macs:,} MACs)")
    print(f"latency         {fmt.seconds(res.latency_s)}  ({res.latency_cycles:,} cycles)")
    print(f"energy          {fmt.joules(res.energy_j)}  " + ", ".join(
        f"{k} {v / res.energy_j:.1%}" for k, v in res.energy_breakdown_j.items()
        if k != "host" or v))
    print(f"DRAM            read {fmt.nbytes(res.dram_read_bytes)}, write "
          f"{fmt.nbytes(res.dram_write_bytes)}, compulsory {fmt.nbytes(res.compulsory_dram_bytes)}"
          ", row-hit rate " + ("n/a" if res.dram_row_hit_rate != res.dram_row_hit_rate
                              else f"{res.dram_row_hit_rate:.1%}"))
    if res.level_bytes:
        print("levels          " + ", ".join(
            f"{name} read {fmt.nbytes(v['read'])} write {fmt.nbytes(v['write'])}"
            f" (transfers {fmt.nbytes(v['in'] + v['out'])}, compulsory "
            f"{fmt.nbytes(v['compulsory'])})"
            for name, v in res.level_bytes.items() if name != "dram"))
    if res.host_read_bytes:
        print(f"host memory     {fmt.nbytes(res.host_read_bytes)} of weights copied in by "
              f"{len(res.host_transfers)} ops (host.offload)")
    print(f"utilization     {res.utilization:.1%}")
    return 0


def _layers_arg(text: str) -> str:
    if text == "all" or (text.isdigit() and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(f"must be a count >= 1 or 'all', got {text!r}")


def _cmd_zoo(args: argparse.Namespace) -> int:
    from pysim import zoo

    for name, params, description in zoo.describe():
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        print(f"{name:<14} {shown:<44} {description}")
    return 0


def add_target_args(p: argparse.ArgumentParser) -> None:
    """The hardware and workload arguments every simulating subcommand takes: a hardware YAML
    or gpu:NAME with --set overrides, a workload YAML, ONNX file (and its options) or
    zoo:NAME[:key=value,...]; read them with ``_load_hardware_arg`` / ``_load_workload_arg``."""
    p.add_argument("hardware", help="hardware YAML (e.g. configs/edge_npu.yaml) or gpu:NAME "
                                    "(configs/gpu/NAME.yaml)")
    p.add_argument("workload", help="workload YAML or ONNX file, or [zoo:]NAME[:key=value,...]")
    p.add_argument("--batch", type=int, help="ONNX: value of a dynamic batch dimension")
    p.add_argument("--dim", action="append", default=[], metavar="NAME=VALUE",
                   help="ONNX: value of a named dynamic dimension (repeatable)")
    p.add_argument("--quantize-bits", type=int, help="ONNX: import float tensors as "
                                                      "integers of this width")
    p.add_argument("--allow-unsupported", action="store_true",
                   help="ONNX: skip op types pysim cannot map (listed in the result)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a hardware field by dotted path (repeatable)")


class _LazySubcommands(argparse._SubParsersAction):
    """Subcommands listed by name and one-line help; a subcommand's module, and the arguments
    it adds, load only when that subcommand is parsed. ``pysim --help`` so imports none of the
    simulator, NumPy or pydantic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaders: dict[str, Callable[[Any], None]] = {}

    def add_lazy(self, name: str, help: str, loader: Callable[[Any], None]) -> None:  # noqa: A002
        """List ``name`` with ``help``; ``loader(sub)`` adds its parser when it is chosen, by
        ``sub.add_parser(name, ...)`` as on argparse's subparsers (other names it adds are
        dropped)."""
        self.add_parser(name, help=help)
        self._loaders[name] = loader

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        name = values[0] if values else None
        loader = self._loaders.pop(name, None) if isinstance(name, str) else None
        if loader is not None and isinstance(name, str):
            listed = list(self._choices_actions)
            del self._name_parser_map[name]
            loader(_OnlyNamed(self, name))
            self._choices_actions[:] = listed
        super().__call__(parser, namespace, values, option_string)


class _OnlyNamed:
    """Subparsers that keep only the parser of one name (a module adding ``sweep`` and ``plot``
    together, when ``sweep`` is parsed)."""

    def __init__(self, sub: _LazySubcommands, name: str) -> None:
        self._sub, self._name = sub, name

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name == self._name:
            return self._sub.add_parser(name, **kwargs)
        return argparse.ArgumentParser(prog=f"pysim {name}", add_help=False)


def _add_gemm(sub: Any) -> None:
    gemm = sub.add_parser("gemm", help=_HELP["gemm"])
    gemm.add_argument("m", type=int, help="rows of A and C (batch x output pixels)")
    gemm.add_argument("n", type=int, help="columns of B and C (filters)")
    gemm.add_argument("k", type=int, help="reduction length")
    gemm.add_argument("--rows", type=int, default=32, help="array rows (default 32)")
    gemm.add_argument("--cols", type=int, default=32, help="array columns (default 32)")
    gemm.add_argument("--dataflow", default="os", choices=["os", "ws", "is"])
    gemm.add_argument("--timing", default="pipelined", choices=["scalesim", "pipelined"],
                      help="pipelined (default, as the shipped configs) or scalesim "
                           "(SCALE-Sim 3.0.0's fold model)")
    gemm.set_defaults(func=_cmd_gemm)


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help=_HELP["run"])
    add_target_args(run)
    add_progress_arg(run)
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.add_argument("--csv", metavar="FILE", help="write the per-op table to a CSV file")
    run.add_argument("--layers", type=_layers_arg, default="20", metavar="N|all",
                     help="print the N longest ops (default 20) or all of them")
    run.add_argument("--mapping", metavar="OP", action="append",
                     help="print the loop nest the mapper chose for this MAC op ('all': every "
                          "one) instead of the table (repeatable)")
    run.set_defaults(func=_cmd_run)


def _add_serve(sub: Any) -> None:
    from pysim.serving.cli import add_parser

    add_parser(sub)


def _add_zoo(sub: Any) -> None:
    zoo_cmd = sub.add_parser("zoo", help=_HELP["zoo"])
    zoo_sub = zoo_cmd.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", required=True)
    zoo_list = zoo_sub.add_parser("list", help="list the zoo's workloads and their parameters")
    zoo_list.set_defaults(func=_cmd_zoo)


def _add_scalesim(sub: Any) -> None:
    from pysim.scalesim import cli as scalesim_cli

    scalesim = sub.add_parser("scalesim", help=_HELP["scalesim"],
                              description=scalesim_cli.__doc__)
    scalesim_cli.add_arguments(scalesim)
    scalesim.set_defaults(func=scalesim_cli.run)


def _add_memplan(sub: Any) -> None:
    from pysim.memplan import cli as memplan_cli  # issue 13

    memplan = sub.add_parser("memplan", help=memplan_cli.HELP, description=memplan_cli.__doc__)
    memplan_cli.add_arguments(memplan)
    memplan.set_defaults(func=memplan_cli.run)


def _add_sweep_or_plot(sub: Any) -> None:
    from pysim.sweep.cli import add_commands

    add_commands(sub)  # sweep, plot


def _add_train(sub: Any) -> None:
    from pysim.training.cli import add_command

    add_command(sub)


def _add_report(sub: Any) -> None:
    from pysim.report.cli import add_command

    add_command(sub)


# Each subcommand: its line in `pysim --help` and what adds its parser when it is parsed.
_HELP = {
    "gemm": "cost of one GEMM on a systolic array",
    "run": "simulate a workload on a hardware description",
    "serve": "simulate LLM serving: requests, batching, KV cache",
    "zoo": "built-in workloads",
    "scalesim": "run a SCALE-Sim config and topology, write SCALE-Sim's report CSVs",
    "memplan": "plan the scratchpad (spills, reloads, addresses) and compare planners",
    "sweep": "simulate every point of a design space",
    "plot": "plot a sweep's Pareto front, or one run per op",
    "train": "simulate one training step (pysim.training.step)",
    "report": "simulate and write one self-contained HTML report (per-op table, breakdowns, "
              "roofline, timeline, memory)",
}
_LOADERS: dict[str, Callable[[Any], None]] = {
    "gemm": _add_gemm, "run": _add_run, "serve": _add_serve, "zoo": _add_zoo,
    "scalesim": _add_scalesim, "memplan": _add_memplan, "sweep": _add_sweep_or_plot,
    "plot": _add_sweep_or_plot, "train": _add_train, "report": _add_report,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``pysim`` parser: each subcommand's arguments are added when it is parsed."""
    parser = argparse.ArgumentParser(
        prog="pysim", description="Hardware-software co-design simulator for DNN accelerators."
    )
    from pysim import __version__

    parser.add_argument("--version", action="version", version=f"pysim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=_LazySubcommands)
    assert isinstance(sub, _LazySubcommands)
    for name, loader in _LOADERS.items():
        sub.add_lazy(name, _HELP[name], loader)
    return parser


_PACKAGE = Path(__file__).resolve().parent
_RAISE = dis.opmap["RAISE_VARARGS"]


def _innermost(tb: TracebackType | None) -> TracebackType | None:
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _raised_by_pysim(exc: BaseException) -> bool:
    """Whether a plain ValueError was raised on purpose by pysim: by a ``raise`` statement in
    the pysim package, or by a call into ``pysim._core`` from it (the bindings turn a refused
    argument into ValueError naming the figure and the limit). Anything else -- NumPy's "array
    is too big", ``int('x')``, ``math.log(-1)``, a library's own check -- got past pysim's
    validation: a bug."""
    tb = _innermost(exc.__traceback__)
    if tb is None:
        return False
    code = tb.tb_frame.f_code
    try:
        if not Path(code.co_filename).resolve().is_relative_to(_PACKAGE):
            return False
    except (OSError, ValueError):
        return False
    if tb.tb_lasti < len(code.co_code) and code.co_code[tb.tb_lasti] == _RAISE:
        return True
    # A C function raised it from this frame: which one, from the call's source text (code
    # positions are Python 3.11's; on 3.10 a ValueError from pysim's own code counts as the
    # user's, as it did before this check).
    if not hasattr(code, "co_positions"):
        return True
    positions = list(code.co_positions())
    index = tb.tb_lasti // 2
    if index >= len(positions):
        return False
    line, end_line, col, end_col = positions[index]
    if line is None or end_line is None or col is None or end_col is None:
        return False
    lines = [linecache.getline(code.co_filename, n) for n in range(line, end_line + 1)]
    if not lines or not any(lines):
        return False
    lines[-1] = lines[-1][:end_col]
    lines[0] = lines[0][col:]
    callee = "".join(lines).split("(", 1)[0]
    return re.search(r"\b_core\.\w+$", callee.strip()) is not None


def _validation_line(exc: Any) -> str:
    """A pydantic ValidationError in one line: the model, the first error's field, message and
    value (an excerpt), and how many more there are."""
    errors = exc.errors()
    if not errors:
        return str(exc).splitlines()[0]
    first = errors[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
    value = repr(first.get("input"))
    value = value if len(value) <= 60 else value[:57] + "..."
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{exc.title}: {field}: {first.get('msg', 'invalid')}, got {value}{more}"


def user_error(exc: BaseException) -> str | None:
    """The one-line message of an error in the user's input (exit 2), or None for an
    exception that is a pysim bug (exit 1, a line asking for a bug report)."""
    if isinstance(exc, (ConfigError, WorkloadError, MissingExtra)):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):  # a file given is not text
        return (f"a file given is not UTF-8 text ({exc.reason} at byte {exc.start}: "
                f"{exc.object[exc.start:exc.start + 1]!r})")
    if isinstance(exc, OSError):  # a file cannot be read or written (str names it), disk full
        return str(exc)
    if type(exc).__name__ == "ValidationError" and type(exc).__module__.startswith("pydantic"):
        return _validation_line(exc)
    if type(exc) is ValueError:
        return str(exc) if _raised_by_pysim(exc) else None
    if isinstance(exc, ValueError) and type(exc).__module__.split(".")[0] == "pysim":
        # pysim's own input errors (MemPlanError, NoTileFits, FieldError, ...); a plan the
        # planners made that breaks a rule of the scratchpad (PlanInvalid) is a bug.
        return None if type(exc).__name__ == "PlanInvalid" else str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `pysim run ... | head`: the reader left; leave quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout again at exit
        return 0
    except KeyboardInterrupt:
        print(f"pysim {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a user error (exit 2) or a bug (exit 1)
        message = user_error(exc)
        if message is not None:
            print(f"pysim {args.command}: error: {message}", file=sys.stderr)
            return 2
        # A bug -- an exception pysim did not raise on purpose, MemoryError, RecursionError
        # and OverflowError included (pysim validates sizes before using them): one line, not
        # a traceback (PYSIM_TRACEBACK=1 shows it).
        if os.environ.get("PYSIM_TRACEBACK"):
            raise
        text = " ".join(str(exc).split())
        print(f"pysim {args.command}: internal error ({type(exc).__name__}: "
              f"{text[:200]}); please report it as a pysim bug with the command line "
              "(PYSIM_TRACEBACK=1 prints the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
