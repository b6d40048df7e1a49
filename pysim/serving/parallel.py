"""One model over several devices: tensor parallelism (Megatron-LM) and pipeline parallelism
(GPipe), with the link between devices from the hardware description's ``interconnect``.

Tensor parallel of degree ``tp`` (Shoeybi et al., "Megatron-LM", 2019, section 3): each layer's
Q/K/V and gate/up projections are split by columns and O / down by rows, so every device runs
heads / tp attention heads (K/V heads too; where kv_heads < tp each is replicated, as vLLM
does), ffn / tp feed-forward units and vocab / tp LM-head columns; norms and residuals run on
every device. Two all-reduces of the T x hidden activations per layer (after attention and
after the feed-forward) and a gather of the logits rows. Ring all-reduce of B bytes over tp
devices: 2 (tp - 1) / tp x B / bandwidth + 2 (tp - 1) x latency (Patarasuk & Yuan, "Bandwidth
optimal all-reduce algorithms", JPDC 2009: reduce-scatter then all-gather, tp - 1 steps each);
an all-gather is half of it (pysim/interconnect.py, shared with data-parallel training).

Pipeline parallel of degree ``pp`` (Huang et al., "GPipe", NeurIPS 2019): layers split into pp
stages (the slowest holds ceil(layers / pp)), the iteration's sequences into m micro-batches
(at most one per sequence); the last micro-batch leaves stage 1 after m - 1 slots and then
crosses pp - 1 stages and pp - 1 point-to-point activation transfers, so an iteration takes
(pp - 1)(t_stage + t_p2p) + m (t_stage + t_head) (the LM head runs on the last stage), i.e.
(m + pp - 1) t_stage when the transfers and head are free: a bubble of (pp - 1) / (m + pp - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pysim.errors import ConfigError
from pysim.interconnect import Link, link_of
from pysim.serving.model import LLMSpec


def _int_at_least(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"parallel: {name} must be an int >= {low}, got {value!r}")


@dataclass(frozen=True)
class ParallelConfig:
    """``tp`` tensor-parallel and ``pp`` pipeline-parallel degree (tp x pp devices, each with
    the hardware's memory); ``micro_batches`` per iteration under pipeline parallelism
    (default: pp; ignored when pp is 1)."""

    tp: int = 1
    pp: int = 1
    micro_batches: int | None = None

    def __post_init__(self) -> None:
        _int_at_least("tp", self.tp, 1)
        _int_at_least("pp", self.pp, 1)
        if self.micro_batches is not None:
            _int_at_least("micro_batches", self.micro_batches, 1)

    @property
    def devices(self) -> int:
        return self.tp * self.pp

    def micro_batches_for(self, sequences: int) -> int:
        """Micro-batches of an iteration running ``sequences`` sequences (1 without pp)."""
        if self.pp == 1:
            return 1
        wanted = self.micro_batches if self.micro_batches is not None else self.pp
        return max(1, min(wanted, sequences))

    def check(self, spec: LLMSpec) -> None:
        """Raise ConfigError when ``spec`` cannot be split this way."""
        for name in ("heads", "ffn"):
            if getattr(spec, name) % self.tp:
                raise ConfigError(f"parallel: tp {self.tp} must divide {spec.name}'s {name} "
                                  f"({getattr(spec, name)})")
        if spec.kv_heads % self.tp and self.tp % spec.kv_heads:
            raise ConfigError(f"parallel: tp {self.tp} must divide {spec.name}'s kv_heads "
                              f"({spec.kv_heads}) or be a multiple of it")
        if self.pp > spec.layers:
            raise ConfigError(f"parallel: pp {self.pp} exceeds {spec.name}'s {spec.layers} "
                              "layers")


def require_link(hw: Any, par: ParallelConfig) -> Link | None:
    """The link ``par`` needs (None on one device). Raises ConfigError when the hardware
    states none."""
    if par.devices == 1:
        return None
    link = link_of(hw)
    if link is None:
        name = getattr(hw, "name", type(hw).__name__)
        raise ConfigError(f"parallel: tp {par.tp} x pp {par.pp} needs a link between devices; "
                          f"hardware {name!r} states no interconnect (add interconnect: "
                          "{bandwidth_gb_per_s, latency_us} to its description)")
    return link


def shard(spec: LLMSpec, tp: int) -> LLMSpec:
    """What one of ``tp`` tensor-parallel devices runs of each layer (Megatron's split); the
    spec itself when tp is 1."""
    if tp == 1:
        return spec
    return spec.with_(name=f"{spec.name}/tp{tp}", heads=spec.heads // tp,
                      kv_heads=max(1, spec.kv_heads // tp), ffn=spec.ffn // tp,
                      vocab=math.ceil(spec.vocab / tp))


def kv_bytes_per_token(spec: LLMSpec, tp: int) -> int:
    """K and V bytes of one token over all tp devices: the model's, times the replication of
    K/V heads where kv_heads < tp."""
    return spec.kv_bytes_per_token * max(1, tp // spec.kv_heads)


def stage_layers(layers: float, pp: int) -> float:
    """Layers of the slowest of ``pp`` stages."""
    return layers if pp == 1 else float(math.ceil(layers / pp - 1e-9))


__all__ = ["Link", "ParallelConfig", "kv_bytes_per_token", "link_of", "require_link", "shard",
           "stage_layers"]
