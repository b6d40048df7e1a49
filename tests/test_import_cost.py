"""`import pysim` and `pysim --help` load none of the heavy libraries: pandas, ml_dtypes,
matplotlib, onnx, dask, scipy load where they are used (issue 18; the times are printed by
benchmarks/bench_import.py)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "ml_dtypes", "matplotlib", "onnx", "dask", "scipy", "pyarrow", "optuna")
PROBE = ("import sys; {code}; "
         f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")


def loaded_by(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_import_pysim_loads_no_heavy_library() -> None:
    assert loaded_by("import pysim") == "[]"


def test_cli_help_loads_no_heavy_library() -> None:
    code = ("from pysim.cli import build_parser; import contextlib, io; "
            "p = build_parser(); f = io.StringIO(); "
            "r = contextlib.redirect_stdout(f); r.__enter__(); "
            "exec('try:\\n p.parse_args([\"--help\"])\\nexcept SystemExit: pass'); "
            "r.__exit__(None, None, None)")
    assert loaded_by(code) == "[]"


def test_each_heavy_library_still_loads_where_it_is_used() -> None:
    code = ("import pysim; pysim.simulate(pysim.gpu.preset('a100'), "
            "pysim.zoo.load('gemm', m=64, n=64, k=64)); pysim.gpu.to_input_format([1.5], 'bf16')")
    loaded = loaded_by(code)
    assert "'ml_dtypes'" in loaded and "'pandas'" in loaded
