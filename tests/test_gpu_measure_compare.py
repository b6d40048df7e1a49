"""benchmarks/measure_gpu_gemm.py's compare mode on a synthetic CSV (no GPU needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pysim import gpu

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "measure_gpu_gemm.py"


def test_compare_reports_relative_error(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("measure_gpu_gemm", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = gpu.preset("a100").gemm_time(4096, 4096, 4096, "fp16")
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(
        "gpu,dtype,m,n,k,time_s,tflops\n"
        f"NVIDIA A100-SXM4-80GB,fp16,4096,4096,4096,{model * 1.25},0\n"
    )
    rows = mod.compare(csv_path, "a100")
    assert len(rows) == 1
    assert rows[0]["model_s"] == model
    assert rows[0]["error"] == pytest.approx(-0.2)
