"""One error path for users (issue 17): every exception reaching ``pysim.cli.main`` is either a
user error -- a pysim error (ConfigError, WorkloadError, pysim's other ValueErrors), a
ValueError raised on purpose by pysim code or by pysim._core, pydantic's ValidationError, an
OSError or a file that is not text -- printed as one line with exit code 2, or a bug: one line
asking for a bug report, exit code 1 (NumPy's "array is too big", MemoryError, RecursionError,
OverflowError, KeyError ...)."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pysim
import pysim.cli as cli
from pysim.cli import main, user_error

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"


def _in_pysim(source: str, name: str) -> Callable[[], Any]:
    """Function ``name`` of ``source``, compiled as if it were a module of the pysim package
    (what the CLI looks at to tell pysim's own raise from a library's)."""
    filename = str(Path(pysim.__file__).parent / "_synthetic_for_test.py")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - test code
    return namespace[name]


SOURCE = """
import math
import numpy as np
from pysim import _core


def raises_on_purpose():
    raise ValueError("rows must be >= 1, got 0")


def core_refuses():
    return _core.GemmShape(0, 1, 1)


def numpy_refuses():
    return np.zeros(1 << 62)


def math_refuses():
    return math.log(-1.0)


def int_refuses():
    return int("many")
"""


def _raised(fn: Callable[[], Any]) -> BaseException:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test looks at it
        return exc
    raise AssertionError("no exception")


@pytest.mark.parametrize("name, user", [("raises_on_purpose", True), ("core_refuses", True),
                                        ("numpy_refuses", False), ("math_refuses", False),
                                        ("int_refuses", False)])
def test_a_plain_value_error_is_a_user_error_only_when_pysim_raised_it(name: str,
                                                                       user: bool) -> None:
    exc = _raised(_in_pysim(SOURCE, name))
    assert type(exc) is ValueError
    assert (user_error(exc) is not None) == user, exc


def test_a_value_error_from_outside_pysim_is_a_bug() -> None:
    import numpy as np

    assert user_error(_raised(lambda: np.zeros(1 << 62))) is None
    assert user_error(_raised(lambda: int("x"))) is None


def test_pysim_errors_os_errors_and_validation_errors_are_user_errors(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class M(BaseModel):
        rows: int

    assert user_error(pysim.ConfigError("hw.yaml: rows must be >= 1")) == \
        "hw.yaml: rows must be >= 1"
    missing = _raised(lambda: (tmp_path / "nope.yaml").read_text())
    assert "nope.yaml" in (user_error(missing) or "")
    line = user_error(_raised(lambda: M(rows="many")))
    assert line is not None and "\n" not in line and "rows" in line and "'many'" in line
    binary = _raised(lambda: b"\xff\xfe".decode())
    assert "not UTF-8 text" in (user_error(binary) or "")
    from pysim.memplan.graph import MemPlanError

    assert user_error(MemPlanError("budget_bytes 1 is below M_R")) is not None


@pytest.mark.parametrize("exc", [MemoryError(), RecursionError("maximum recursion depth"),
                                 OverflowError("cannot convert float infinity to integer"),
                                 ValueError("array is too big"), KeyError("x")])
def test_a_bug_exits_1_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str],
                                     exc: BaseException) -> None:
    def boom(*_a: Any, **_k: Any) -> Any:
        raise exc

    monkeypatch.setattr(cli, "_load_hardware_arg", boom)
    assert main(["run", str(EDGE), str(TINY)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"pysim run: internal error ({type(exc).__name__}") and "\n" not in err
    assert "please report it as a pysim bug" in err


@pytest.mark.parametrize("argv, fragment", [
    (["gemm", "1000000000000", "1000000000000", "1000000000000"], "overflows"),  # from _core
    (["gemm", "4", "4", "4", "--rows", "100000"], "rows must be in 1..4096"),
    (["run", str(EDGE), "nosuch.yaml"], "nosuch.yaml"),
    (["run", "gpu:nosuch", "zoo:tiny_cnn"], "unknown GPU 'nosuch'"),
])
def test_user_input_still_exits_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                  fragment: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err and err.startswith(f"pysim {argv[0]}: error: ")
