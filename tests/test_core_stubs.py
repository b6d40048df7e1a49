"""pysim/_core.pyi is the stub of the built extension: regenerate it when the bindings change
(``pybind11-stubgen pysim._core -o STUBDIR`` and copy ``STUBDIR/pysim/_core.pyi``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pysim

STUB = Path(pysim.__file__).with_name("_core.pyi")


def test_stub_matches_the_extension(tmp_path: Path) -> None:
    # run outside the repo: from its root, `python -m` would import the unbuilt source tree
    subprocess.run([sys.executable, "-m", "pybind11_stubgen", "pysim._core", "-o",
                    str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    fresh = (tmp_path / "pysim" / "_core.pyi").read_text()
    assert STUB.read_text() == fresh, "pysim/_core.pyi is stale: regenerate it (see docstring)"


def test_every_binding_has_a_docstring() -> None:
    missing = [name for name in dir(pysim._core) if not name.startswith("_")
               and callable(getattr(pysim._core, name))
               and not (getattr(pysim._core, name).__doc__ or "").strip()]
    assert not missing, missing
