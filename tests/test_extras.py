"""A feature whose optional dependency is missing says which extra installs it: one line,
CLI exit 2 (issue 18). The extras are named in pyproject.toml and the README."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pysim.errors import MissingExtra, require

ROOT = Path(__file__).resolve().parents[1]
# Run Python with a module made unimportable, then call what needs it.
BLOCK = ("import sys; sys.modules[{mod!r}] = None; "
         "from pysim.cli import main; sys.exit(main({argv!r}))")


def test_require_names_the_feature_and_the_extra() -> None:
    with pytest.raises(MissingExtra, match=r"ONNX import needs the 'no_such_mod' package.*"
                                           r"pip install 'pysim\[onnx\]'"):
        require("no_such_mod", "ONNX import", "onnx")
    assert require("math", "x", "y").sqrt(4.0) == 2.0


@pytest.mark.parametrize(("module", "argv", "extra"), [
    ("onnx", ["run", "configs/edge_npu.yaml", "tests/data/bad/onnx_opset_999.onnx"], "onnx"),
    ("distributed", ["sweep", "{space}", "configs/edge_npu.yaml",
                     "zoo:gemm:m=64,n=64,k=64", "-o", "{out}", "--scheduler",
                     "tcp://127.0.0.1:9"], "dask"),
])
def test_the_cli_names_the_missing_extra_in_one_line(tmp_path: Path, module: str,
                                                     argv: list[str], extra: str) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("units.0.rows: [16, 32]\n")
    argv = [a.replace("{out}", str(tmp_path / "out.parquet")).replace("{space}", str(space))
            for a in argv]
    done = subprocess.run([sys.executable, "-c", BLOCK.format(mod=module, argv=argv)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"pip install 'pysim[{extra}]'" in done.stderr


def test_extras_are_declared_and_documented() -> None:
    import importlib.metadata

    meta = importlib.metadata.metadata("pysim")
    assert {"onnx", "dask", "search", "all", "test"} <= set(meta.get_all("Provides-Extra"))
    test_needs = [r for r in meta.get_all("Requires-Dist") if 'extra == "test"' in r]
    assert any(r.startswith("pysim[all]") for r in test_needs), test_needs
    readme = (ROOT / "README.md").read_text()
    for extra in ("onnx", "dask", "search", "all"):
        assert f"pysim[{extra}]" in readme
