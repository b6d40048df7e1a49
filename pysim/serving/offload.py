"""Serving a model whose weights do not fit the device (``host.offload`` on the hardware,
pysim/config/host.py): the last layers' weights and the LM head live in host memory and are
copied in over the host link in every iteration, as vLLM's ``--cpu-offload-gb`` moves an
offloaded layer's parameters in before its forward (Kwon et al.'s engine since v0.5.3) and
Accelerate's hooks do.

How much is offloaded: the device keeps weights in layer order while the KV cache keeps room
for one sequence of the model's whole context (vLLM refuses to start with less: its
``max_model_len`` check), within ``memory_fraction`` of the memory and at most
``host.device_weights_gib``; the rest, from the end of the model, lives in host memory. Per
iteration, each offloaded layer's copy is added to its computation (``on_demand``) or hidden
under it where the layer computes longer (``prefetch``, copies running ahead), and so is the LM
head's; the copies' energy is the host link's (host memory read, link, device memory write).
One device only (tensor / pipeline parallelism shard the weights instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pysim.errors import ConfigError
from pysim.serving.cost import Cost
from pysim.serving.model import LLMSpec

GIB = 2**30


@dataclass(frozen=True)
class ServingOffload:
    """What lives in host memory: ``layers`` of the model's last layers (fractional: the
    first of them in part) at ``layer_bytes`` each and ``head_bytes`` of the final norm and
    LM head; the link's rate, per-copy latency and energy per byte; ``mode`` as the
    hardware's ``host.offload``; ``copies_per_layer``: weight tensors a layer copies."""

    mode: str
    layers: float
    layer_bytes: float
    head_bytes: float
    bytes_per_s: float
    copy_latency_s: float
    pj_per_byte: float
    copies_per_layer: int

    @property
    def bytes(self) -> float:
        """Bytes in host memory, copied in by every iteration that runs every layer."""
        return self.layers * self.layer_bytes + self.head_bytes

    def cost(self, layer: Cost, head: Cost, layers_run: float, model_layers: int) -> Cost:
        """What the copies add to an iteration whose layers cost ``layer`` each (``layers_run``
        of the ``model_layers``: early exit stops before the offloaded ones) and whose head
        costs ``head``."""
        copied = max(0.0, min(self.layers, layers_run - (model_layers - self.layers)))
        layer_copy = (self.layer_bytes / self.bytes_per_s
                      + self.copies_per_layer * self.copy_latency_s)
        head_copy = (self.head_bytes / self.bytes_per_s + self.copy_latency_s
                     if self.head_bytes else 0.0)
        if self.mode == "prefetch":  # a copy runs under the computation before its use
            seconds = (copied * max(0.0, layer_copy - layer.seconds)
                       + max(0.0, head_copy - head.seconds))
        else:
            seconds = copied * layer_copy + head_copy
        nbytes = copied * self.layer_bytes + self.head_bytes
        return Cost(seconds, nbytes * self.pj_per_byte * 1e-12)


def hardware_of(hw: Any) -> Any:
    """``hw`` as a Hardware (a GPU preset's description, a loaded YAML), else None."""
    from pysim.config import Hardware, load_hardware
    from pysim.gpu.presets import GpuPreset

    if isinstance(hw, GpuPreset):
        return hw.hardware
    if isinstance(hw, Hardware):
        return hw
    try:
        return load_hardware(hw)
    except (TypeError, ValueError, OSError):
        return None


def plan(hw: Any, spec: LLMSpec, weights: float, memory: float, fraction: float,
         kv_min: float, devices: int) -> ServingOffload | None:
    """The offload for serving ``spec`` (``weights`` bytes in all, a draft's included, which
    stays on the device) on ``hw`` with ``memory`` bytes (``fraction`` usable) and ``kv_min``
    bytes of KV cache kept for one whole-context sequence; None where the hardware does not
    offload or everything fits. Raises ConfigError with tensor / pipeline parallelism, or
    where even the target model's layers and head in host memory leave too little."""
    hardware = hardware_of(hw)
    host = getattr(hardware, "host", None)
    if host is None or host.offload == "none":
        return None
    room = memory * fraction - kv_min
    if host.device_weights_gib is not None:
        room = min(room, host.device_weights_gib * GIB)
    over = weights - room
    if over <= 0:
        return None
    if devices > 1:
        raise ConfigError(f"host.offload {host.offload!r} serves one device; tp x pp = "
                          f"{devices} devices shard the weights instead (set host.offload "
                          "'none')")
    head = (spec.vocab + 1) * spec.hidden * spec.bytes_per_element  # LM head and final norm
    layer = (spec.weight_bytes - head - (0 if spec.tied_embeddings
                                         else spec.vocab * spec.hidden * spec.bytes_per_element)
             ) / spec.layers
    if over > head + spec.layers * layer:
        raise ConfigError(
            f"{spec.name} does not fit {getattr(hardware, 'name', 'the hardware')} even with "
            f"its layers and LM head in host memory: {weights / 1e9:.2f} GB of weights, "
            f"{over / 1e9:.2f} GB over the {max(room, 0) / 1e9:.2f} GB the device keeps for "
            f"them beside the KV cache of one {spec.max_context}-token sequence "
            f"({kv_min / 1e9:.2f} GB)")
    in_head = min(over, head)
    assert hardware is not None  # it has a host link
    copies = 2 + 4 + spec.experts * spec.ffn_matrices  # norms, Q / K / V / O, FFN matrices
    return ServingOffload(
        mode=host.offload, layers=(over - in_head) / layer, layer_bytes=layer,
        head_bytes=in_head, bytes_per_s=host.bytes_per_s, copy_latency_s=host.latency_us * 1e-6,
        pj_per_byte=host.pj_per_byte(hardware.dram.write_pj_per_bit), copies_per_layer=copies)


def kv_min_bytes(spec: LLMSpec, block_size: int, block_bytes: float) -> float:
    """The KV cache of one sequence of the model's whole context, in whole blocks."""
    return math.ceil(spec.max_context / block_size) * block_bytes
