"""Serving anchor: vLLM's request rate at equal latency against Orca and static batching
(Kwon et al., SOSP 2023). The model, sources and protocol are in examples/serving/
vllm_anchor.py, which this runs; docs/serving.md has the figures.

    python benchmarks/validate_serving.py [--duration S] [--tolerance T]
"""

from __future__ import annotations

import runpy
from pathlib import Path

if __name__ == "__main__":
    path = Path(__file__).resolve().parent.parent / "examples" / "serving" / "vllm_anchor.py"
    runpy.run_path(str(path), run_name="__main__")
