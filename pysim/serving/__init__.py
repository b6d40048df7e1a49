"""LLM serving as a discrete-event simulation (issue 16): requests arrive, a scheduler
batches them, each iteration costs what ``pysim.simulate`` says for its shapes, and a paged
KV cache bounds what runs at once.

    import pysim, pysim.serving as sv
    reqs = sv.poisson(4.0, n=1000, prompt_tokens=("uniform", 64, 1024), output_tokens=128)
    res = sv.serve(pysim.gpu.preset("a100"), "llama2_7b", reqs, scheduler="continuous")
    res.summary().ttft_p99_s, res.requests, res.iterations

docs/serving.md has the model, its sources and the anchors.
"""

from pysim.serving.cost import Cost, CostModel, IterationShape
from pysim.serving.dynamic import ExitProfile, Routing
from pysim.serving.kvcache import Cake, FullCache, HeavyHitter, RecentWindow, capacity_blocks
from pysim.serving.metrics import ServingResult, Summary
from pysim.serving.model import MODELS, LLMSpec, model
from pysim.serving.requests import Request, load_trace, poisson, write_trace
from pysim.serving.simulator import SCHEDULERS, ServeConfig, memory_bytes, serve

__all__ = [
    "MODELS",
    "SCHEDULERS",
    "Cake",
    "Cost",
    "CostModel",
    "ExitProfile",
    "FullCache",
    "HeavyHitter",
    "IterationShape",
    "LLMSpec",
    "RecentWindow",
    "Request",
    "Routing",
    "ServeConfig",
    "ServingResult",
    "Summary",
    "capacity_blocks",
    "load_trace",
    "memory_bytes",
    "model",
    "poisson",
    "serve",
    "write_trace",
]
