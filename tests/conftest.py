"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``cli("run", hw, wl, ...)``: ``pysim.cli.main`` on the arguments, returning its exit
    code and what it printed to stdout and stderr."""
    from pysim.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
