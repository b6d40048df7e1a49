"""SCALE-Sim 3.0.0's report CSVs, byte for byte: the header lines of simulator.py, then one
row per layer, ``str()`` of every value joined by ``", "`` with a trailing ``",\\n"``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pysim.scalesim.runner import LayerReport

COMPUTE_REPORT = "COMPUTE_REPORT.csv"
DETAILED_ACCESS_REPORT = "DETAILED_ACCESS_REPORT.csv"
BANDWIDTH_REPORT = "BANDWIDTH_REPORT.csv"
REPORT_FILES = (COMPUTE_REPORT, DETAILED_ACCESS_REPORT, BANDWIDTH_REPORT)

# (SCALE-Sim column, LayerReport attribute), in SCALE-Sim's order, per report.
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    COMPUTE_REPORT: (
        ("Total Cycles (incl. prefetch)", "total_cycles_incl_prefetch"),
        ("Total Cycles", "total_cycles"),
        ("Stall Cycles", "stall_cycles"),
        ("Overall Util %", "overall_util"),
        ("Mapping Efficiency %", "mapping_efficiency"),
        ("Compute Util %", "compute_util"),
    ),
    DETAILED_ACCESS_REPORT: tuple(
        (f"{mem} {op} {what}", f"{mem.lower()}_{op.lower()}_{attr}")
        for mem in ("SRAM", "DRAM")
        for op in ("IFMAP", "Filter", "OFMAP")
        for what, attr in (
            ("Start Cycle", "start"),
            ("Stop Cycle", "stop"),
            ("Writes" if op == "OFMAP" else "Reads", "writes" if op == "OFMAP" else "reads"),
        )
    ),
    BANDWIDTH_REPORT: tuple(
        (f"Avg {op} {mem} BW", f"avg_{op.lower()}_{mem.lower()}_bw")
        for mem in ("SRAM", "DRAM")
        for op in ("IFMAP", "FILTER", "OFMAP")
    ),
}


def header(report: str) -> str:
    """The header line SCALE-Sim writes for `report` (sparsity off)."""
    return "LayerID, " + ", ".join(name for name, _ in COLUMNS[report]) + ",\n"


def row(report: str, layer: LayerReport) -> list[int | float]:
    """The values of one layer's row in `report`, in column order."""
    return [getattr(layer, attr) for _, attr in COLUMNS[report]]


def format_row(layer_id: int, values: Sequence[int | float]) -> str:
    """One report line as SCALE-Sim writes it (ints as ints, cycles/averages as floats)."""
    return str(layer_id) + ", " + ", ".join(str(v) for v in values) + ",\n"


def render(reports: Sequence[LayerReport]) -> dict[str, str]:
    """The three report files' contents, keyed by file name."""
    return {
        name: header(name) + "".join(format_row(r.layer_id, row(name, r)) for r in reports)
        for name in REPORT_FILES
    }


def write_reports(outdir: str | Path, reports: Sequence[LayerReport]) -> list[Path]:
    """Write the three CSVs into `outdir` (created if missing); returns their paths."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render(reports).items():
        path = out / name
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        paths.append(path)
    return paths
