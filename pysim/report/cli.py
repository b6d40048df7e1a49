"""``pysim report HW WL -o report.html``: simulate with the engine's timeline recorded and
write the HTML report (and, with ``--trace``, the Chrome/Perfetto trace)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_command(sub: argparse._SubParsersAction) -> None:
    """Register ``pysim report`` on the top-level subparsers."""
    p = sub.add_parser("report", help="simulate and write one self-contained HTML report "
                                      "(per-op table, breakdowns, roofline, timeline, memory)")
    from pysim.cli import add_target_args

    add_target_args(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the HTML file to write (e.g. report.html)")
    p.add_argument("--trace", metavar="FILE",
                   help="also write the engine's timeline as a Chrome/Perfetto trace (JSON)")
    p.add_argument("--title", help="page title (default: WORKLOAD on HARDWARE)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pysim.cli import _load_hardware_arg, _load_workload_arg
    from pysim.report.page import render
    from pysim.simulate import simulate

    hw = _load_hardware_arg(args.hardware, args.set)
    res = simulate(hw, _load_workload_arg(args.workload, args), trace=True)
    page = render(res, title=args.title)
    Path(args.output).write_text(page, encoding="utf-8")
    print(f"wrote {args.output} ({len(page.encode('utf-8')) / 1024:.0f} KiB): {res.workload} "
          f"on {res.hardware}, {len(res.layers)} ops")
    if args.trace:
        res.to_chrome_trace(args.trace)
        print(f"wrote {args.trace} (open it in the Perfetto UI or chrome://tracing)")
    return 0
