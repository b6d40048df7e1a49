"""Run a test script in a fresh interpreter on the extension's portable loops: the CPU
features are read once per process, so PYSIM_DISABLE_CPU_FEATURES=avx512 needs a new one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent


def run_portable(script: str, tmp_path: Path) -> dict[str, np.ndarray]:
    """Run ``script`` (a str.format template given ``tests``, the folder to import the test
    modules from, and ``path``, the .npz file it must write) without AVX-512; its arrays."""
    path = tmp_path / "portable.npz"
    env = {**os.environ, "PYSIM_DISABLE_CPU_FEATURES": "avx512"}
    done = subprocess.run([sys.executable, "-c", script.format(tests=str(TESTS), path=str(path))],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with np.load(path) as arrays:
        return dict(arrays)
