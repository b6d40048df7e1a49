"""Load a script under examples/ or benchmarks/ as a module, as the tests that pin its figures
need."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load(folder: str, name: str) -> ModuleType:
    """``examples/<folder>/<name>.py`` as the module ``<folder>_<name>``, registered in
    ``sys.modules`` (dataclasses look their module up there) with its folder importable while
    it runs (the seed scripts import their ``_seedlib``)."""
    where = EXAMPLES / folder
    spec = importlib.util.spec_from_file_location(f"{folder}_{name}", where / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    sys.path.insert(0, str(where))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(where))
    return module


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as the module ``<name>``, registered in ``sys.modules``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
