"""LLM serving as a discrete-event simulation (issue 16): requests arrive, a scheduler
batches them, each iteration costs what ``pysim.simulate`` says for its shapes, and a paged
KV cache bounds what runs at once.

    import pysim, pysim.serving as sv
    reqs = sv.poisson(4.0, n=1000, prompt_tokens=("uniform", 64, 1024), output_tokens=128)
    res = sv.serve(pysim.gpu.preset("a100"), "llama2_7b", reqs, scheduler="continuous")
    res.summary().ttft_p99_s, res.requests, res.iterations

Speculative decoding: ``serve(..., speculative=sv.SpeculativeConfig("llama_68m", 4, 0.8))``;
several devices: ``serve(..., parallel=sv.ParallelConfig(tp=2, pp=1))``; plots (matplotlib,
imported on use): ``pysim.serving.plot``.

docs/serving.md has the model, its sources and the anchors.
"""

from pysim.serving.cost import Cost, CostModel, IterationShape
from pysim.serving.dynamic import ExitProfile, LayerSkip, Routing
from pysim.serving.kvcache import (
    BuddyAllocator,
    Cake,
    FullCache,
    HeavyHitter,
    RecentWindow,
    capacity_blocks,
)
from pysim.serving.metrics import ServingResult, Summary
from pysim.serving.model import MODELS, LLMSpec, model
from pysim.serving.parallel import Link, ParallelConfig
from pysim.serving.requests import MAX_REQUESTS, Request, load_trace, poisson, write_trace
from pysim.serving.simulator import SCHEDULERS, ServeConfig, memory_bytes, serve
from pysim.serving.speculative import SpeculativeConfig

__all__ = [
    "MAX_REQUESTS",
    "MODELS",
    "SCHEDULERS",
    "BuddyAllocator",
    "Cake",
    "Cost",
    "CostModel",
    "ExitProfile",
    "FullCache",
    "HeavyHitter",
    "IterationShape",
    "LLMSpec",
    "LayerSkip",
    "Link",
    "ParallelConfig",
    "RecentWindow",
    "Request",
    "Routing",
    "ServeConfig",
    "ServingResult",
    "SpeculativeConfig",
    "Summary",
    "capacity_blocks",
    "load_trace",
    "memory_bytes",
    "model",
    "poisson",
    "serve",
    "write_trace",
]


def __getattr__(name: str) -> object:
    """``pysim.serving.plot`` is imported on first use (matplotlib is slow to load)."""
    if name == "plot":
        import importlib

        return importlib.import_module("pysim.serving.plot")
    raise AttributeError(f"module 'pysim.serving' has no attribute {name!r}")
