"""`import pysim` and `pysim --help` load none of the heavy libraries: pandas, ml_dtypes,
matplotlib, onnx, dask, scipy load where they are used, and `import pysim` / `pysim --help` load
neither NumPy nor pydantic nor the simulator: public names and subcommands load on first use
(issue 18; the times are printed by benchmarks/bench_import.py)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

HEAVY = ("pandas", "ml_dtypes", "matplotlib", "onnx", "dask", "scipy", "pyarrow", "optuna")
# What `import pysim` and `pysim --help` leave out besides: the simulator's own dependencies.
LAZY = (*HEAVY, "numpy", "pydantic", "yaml", "simpy", "tqdm")
PROBE = ("import sys; {code}; "
         "print(sorted(m for m in {names!r} if m in sys.modules))")


def loaded_by(code: str, names: tuple[str, ...] = HEAVY) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code, names=names)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_pysim_loads_no_heavy_library() -> None:
    assert loaded_by("import pysim", LAZY) == "[]"


def test_import_pysim_loads_only_the_extension() -> None:
    code = "import pysim; print(sorted(m for m in sys.modules if m.startswith('pysim')))"
    assert loaded_by(code, ()).splitlines()[0] == "['pysim', 'pysim._core']"


def test_import_pysim_cli_loads_no_heavy_library() -> None:
    assert loaded_by("import pysim.cli", LAZY) == "[]"


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_cli_help_loads_no_heavy_library(flag: str) -> None:
    code = ("from pysim.cli import main; import contextlib, io; "
            "r = contextlib.redirect_stdout(io.StringIO()); r.__enter__(); "
            f"exec('try:\\n main([\"{flag}\"])\\nexcept SystemExit: pass'); "
            "r.__exit__(None, None, None)")
    assert loaded_by(code, LAZY) == "[]"


def test_each_heavy_library_still_loads_where_it_is_used() -> None:
    code = ("import pysim; pysim.simulate(pysim.gpu.preset('a100'), "
            "pysim.zoo.load('gemm', m=64, n=64, k=64)); pysim.gpu.to_input_format([1.5], 'bf16')")
    loaded = loaded_by(code)
    assert "'ml_dtypes'" in loaded and "'pandas'" in loaded


def test_every_public_name_resolves() -> None:
    code = ("import pysim; missing = [n for n in pysim.__all__ if not hasattr(pysim, n)]; "
            "print(missing, sorted(set(pysim.__all__) - set(dir(pysim))))")
    assert loaded_by(code, ()).splitlines()[0] == "[] []"


def test_sweep_and_simulate_stay_functions_when_their_modules_load() -> None:
    # pysim.sweep and pysim.simulate are also subpackage / module names; loading those binds the
    # module onto pysim, which must not replace the public function.
    code = ("import pysim.sweep.runner, pysim.simulate, pysim; "
            "print(callable(pysim.sweep) and pysim.sweep.__module__ == 'pysim.sweep.runner', "
            "callable(pysim.simulate) and pysim.simulate.__module__ == 'pysim.simulate')")
    assert loaded_by(code, ()).splitlines()[0] == "True True"


def test_unknown_attribute_raises_attribute_error() -> None:
    import pysim

    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        pysim.no_such_name  # noqa: B018
    assert pysim.serving.__name__ == "pysim.serving"  # any submodule loads as an attribute


def test_the_listed_help_is_each_subcommands_own() -> None:
    from pysim import cli

    class Recorder:
        def __init__(self) -> None:
            self.helps: dict[str, Any] = {}

        def add_parser(self, name: str, **kwargs: Any) -> Any:
            import argparse

            self.helps[name] = kwargs.get("help")
            return argparse.ArgumentParser(prog=name)

    rec = Recorder()
    for loader in set(cli._LOADERS.values()):
        loader(rec)
    assert rec.helps == cli._HELP
