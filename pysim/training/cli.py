"""``pysim train HW WL``: one simulated training step, printed as a table of its figures."""

from __future__ import annotations

import argparse

from pysim.training.formats import RECIPES, ROLES
from pysim.training.optim import OPTIMIZERS


def add_command(sub: argparse._SubParsersAction) -> None:
    """Register ``pysim train`` on the top-level subparsers."""
    p = sub.add_parser("train", help="simulate one training step (pysim.training.step)")
    p.add_argument("hardware", help="hardware YAML, or gpu:<preset> (e.g. gpu:a100)")
    p.add_argument("workload", help="workload YAML / ONNX, or a zoo model name")
    p.add_argument("--optimizer", default="adam", help=f"one of {', '.join(OPTIMIZERS)}")
    p.add_argument("--recipe", default="mixed_bf16",
                   help=f"one of {', '.join(RECIPES)} or fixed<N>")
    p.add_argument("--format", action="append", default=[], metavar="ROLE=FORMAT",
                   help=f"set one role's format (repeatable); roles: {', '.join(ROLES)}, "
                        "e.g. --format dW=bf16 --format state=bf16")
    p.add_argument("--checkpoint", action="store_true", help="activation checkpointing")
    p.add_argument("--per-tensor-optimizer", action="store_true",
                   help="one optimizer update per parameter tensor (default: one multi-tensor "
                        "update per format group, as PyTorch's foreach / fused optimizers)")
    p.add_argument("--weight-copy", choices=("optimizer", "forward"), default=None,
                   help="where mixed precision makes the low-precision weight copy: written "
                        "by the optimizer update (as Apex O2 / Megatron-LM; the default) or "
                        "cast before each forward GEMM (as PyTorch autocast; the default of "
                        "the amp_* recipes)")
    p.add_argument("--memory-gib", type=float, default=None,
                   help="memory to check the peak against (default: a GPU's HBM)")
    p.add_argument("--data-parallel", type=int, default=1, metavar="N",
                   help="devices, gradients all-reduced over the hardware's interconnect "
                        "(default 1)")
    p.add_argument("--bucket-mib", type=float, default=25.0,
                   help="gradient bucket size for the all-reduce, MiB (default 25, as DDP)")
    p.add_argument("--zero-stage", type=int, default=0, choices=(0, 1, 2, 3),
                   help="with --data-parallel: partition the optimizer states (1), and the "
                        "gradients (2), and the parameters (3) over the devices as ZeRO / "
                        "FSDP do (default 0: DDP, every device holds them all)")
    p.add_argument("--grad-accum", type=int, default=1, metavar="K",
                   help="micro batches of the workload's batch per step, their gradients "
                        "accumulated and the update after the last (default 1)")
    p.add_argument("--tensor-parallel", type=int, default=1, metavar="T",
                   help="split each attention and MLP block over T devices (Megatron-LM; "
                        "default 1)")
    p.add_argument("--pipeline-stages", type=int, default=1, metavar="P",
                   help="split the model into P pipeline stages over P devices (1F1B "
                        "schedule, --grad-accum micro batches; default 1: no pipeline)")
    p.add_argument("--save-graph", metavar="FILE.yaml", default=None,
                   help="also write the step's training graph as a workload YAML (forward, "
                        "backward and optimizer ops), which `pysim run` and load_workload "
                        "read back as the same graph")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pysim
    from pysim import training
    from pysim.errors import WorkloadError

    if args.save_graph:  # refused before the step runs, not after
        from pathlib import Path

        target = Path(args.save_graph).expanduser().resolve()
        if target.is_dir():
            raise WorkloadError(f"--save-graph {args.save_graph}: a directory; give the "
                                f"file to write, e.g. {Path(args.save_graph) / 'step.yaml'}")
        if not target.parent.is_dir():
            raise WorkloadError(f"--save-graph {args.save_graph}: no directory "
                                f"{target.parent} to write it in")
    hw = (pysim.gpu.preset(args.hardware[4:]) if args.hardware.startswith("gpu:")
          else args.hardware)
    formats = {}
    for item in args.format:
        role, sep, fmt = item.partition("=")
        if not sep or not role or not fmt:
            raise WorkloadError(f"--format {item!r}: write ROLE=FORMAT, e.g. dW=bf16; roles: "
                                f"{', '.join(ROLES)}")
        formats[role] = int(fmt) if fmt.isdigit() else fmt
    if args.pipeline_stages != 1:
        if args.save_graph:
            raise WorkloadError("--pipeline-stages: no --save-graph beside it (a pipeline has "
                                "a graph per stage)")
        ps = training.pipeline_step(hw, args.workload, args.pipeline_stages, args.grad_accum,
                                    args.optimizer, args.recipe, formats=formats or None,
                                    checkpoint=args.checkpoint,
                                    fused_optimizer=not args.per_tensor_optimizer,
                                    weight_copy=args.weight_copy, memory_gib=args.memory_gib,
                                    data_parallel=args.data_parallel,
                                    zero_stage=args.zero_stage, bucket_mib=args.bucket_mib,
                                    tensor_parallel=args.tensor_parallel)
        _table({**ps.summary(), "memory": f"{ps.memory.describe()} (the fullest stage)"})
        return 0
    s = training.step(hw, args.workload, args.optimizer, args.recipe, formats=formats or None,
                      checkpoint=args.checkpoint,
                      fused_optimizer=not args.per_tensor_optimizer,
                      weight_copy=args.weight_copy, memory_gib=args.memory_gib,
                      data_parallel=args.data_parallel, bucket_mib=args.bucket_mib,
                      zero_stage=args.zero_stage, grad_accum=args.grad_accum,
                      tensor_parallel=args.tensor_parallel)
    _table({**s.summary(),
            **{f"time_{phase}_s": f"{secs:.6g}" for phase, secs in s.time_by_phase_s().items()},
            "memory": s.memory.describe()})
    if args.save_graph:
        from pysim.workload import dump_workload

        graph = s.graph.workload
        dump_workload(graph, args.save_graph, header=(
            f"The training graph of {args.workload} ({args.recipe}, {args.optimizer}): one "
            f"step's {len(graph.ops)} ops, written by `pysim train` (docs/training.md)."))
        print(f"wrote {args.save_graph}: {len(graph.ops)} ops")
    return 0


def _table(rows: dict[str, object]) -> None:
    """``key value`` lines, the values in one column."""
    w = max(20, *(len(k) + 1 for k in rows))
    for key, value in rows.items():
        print(f"{key:<{w}} {value}")
