"""The device's link to its host's memory (``host:`` in a hardware file): the PCIe or
NVLink-C2C port that weights cross when they live in host memory (``offload``).

A workload whose weights do not fit the device's memory (``dram.capacity_gib``) is an error
unless ``offload`` says how the weights that do not fit run from host memory:

- ``on_demand``: each op whose weights are in host memory copies them to the device when it
  is reached, after the op before it, and runs once they have arrived; nothing overlaps the
  copy (Hugging Face Accelerate's offload hooks, which move a module's weights in its
  ``pre_forward`` on the compute stream).
- ``prefetch``: the copies run ahead on their own stream, in op order, into staging buffers
  of twice the largest op's weights: a copy starts once the ops of the earlier copies it
  would not fit beside have run (their buffers are free), so copies overlap the computation
  before them (DeepSpeed ZeRO-Inference's prefetched parameters; FlexGen's overlapped
  schedule, Sheng et al., ICML 2023, Sec. 4).

Which weights stay on the device: in op order, as many as fit the device's memory less the
graph inputs, the largest op's activations and the staging buffers (the largest op's weights,
once for ``on_demand``, twice for ``prefetch``), and at most ``device_weights_gib``; the first
weight that does not fit and every weight after it live in host memory (Accelerate's
``infer_auto_device_map`` fills the GPU in module order and reserves its largest layer).
``device_weights_gib: 0`` offloads every weight, as ZeRO-Inference does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pysim.config.quantities import BandwidthGBps, Float

if TYPE_CHECKING:
    from pysim.config.hardware import Hardware


class LinkSpec(NamedTuple):
    """One link standard: its data rate per direction as the specification gives it (GB/s,
    1e9 B/s, after line coding), its energy per bit moved, and the share of the rate copies
    from pinned host memory achieve (measured)."""

    gb_per_s: float
    pj_per_bit: float
    efficiency: float


# What pinned copies achieve over PCIe: FlexGen's cost model fits 12.89 GiB/s CPU-to-GPU on a
# GCP T4 (PCIe 3.0 x16, 15.75 GB/s): 13.84 / 15.75 = 0.88 (FMInference/FlexGen,
# flexgen/cost_model.py, ctog_bdw); taken for PCIe 4.0 and 5.0 too (an ESTIMATE there).
PINNED_EFFICIENCY = 0.88
# Over NVLink-C2C: 375 GB/s host to device measured on a GH200 480GB (Schieffer et al., "Harnessing
# Integrated CPU-GPU System Memory for HPC: a first look into Grace Hopper", arXiv 2407.07850,
# 2024, as HPCwire reported it), of 450.
C2C_EFFICIENCY = 375 / 450

# Per direction, x16: PCIe 3.0 8 GT/s, 4.0 16 GT/s and 5.0 32 GT/s per lane with 128b/130b
# coding (PCI-SIG PCI Express Base Specifications 3.0, 4.0, 5.0); NVLink-C2C 900 GB/s in total,
# 450 each way (NVIDIA Grace Hopper Superchip Architecture whitepaper, 2023). Energy: NVLink-C2C
# 1.3 pJ/bit, "5x more energy efficient than PCIe Gen 5" (the same whitepaper), so 6.5 pJ/bit
# for PCIe 5.0, taken for 3.0 and 4.0 too (an ESTIMATE).
LINKS: dict[str, LinkSpec] = {
    "pcie3_x16": LinkSpec(8 * 16 * 128 / 130 / 8, 6.5, PINNED_EFFICIENCY),
    "pcie4_x16": LinkSpec(16 * 16 * 128 / 130 / 8, 6.5, PINNED_EFFICIENCY),
    "pcie5_x16": LinkSpec(32 * 16 * 128 / 130 / 8, 6.5, PINNED_EFFICIENCY),
    "nvlink_c2c": LinkSpec(450.0, 1.3, C2C_EFFICIENCY),
}
LinkName = Literal["pcie3_x16", "pcie4_x16", "pcie5_x16", "nvlink_c2c"]

# The fixed cost of one copy: a cudaMemcpyAsync call, taken as one kernel launch's ~4 us
# (NVIDIA Technical Blog, A. Gray, "Getting Started with CUDA Graphs", 2019; an ESTIMATE).
COPY_LATENCY_US = 4.0

OFFLOAD_MODES = ("none", "on_demand", "prefetch")


class HostLink(BaseModel):
    """The link to host memory. ``link`` names its standard (``LINKS``); ``bandwidth_gb_per_s``
    is what one copy achieves per direction (GB/s; default the standard's rate x its measured
    ``efficiency``); ``latency_us`` the fixed cost of one copy; ``energy_pj_per_bit``
    the link's energy per bit (default the standard's), to which the host memory's read
    (``memory``, a DRAM preset) and the device memory's write are added; ``capacity_gib`` the
    host memory (None: not checked); ``offload`` and ``device_weights_gib`` as the module
    docstring says."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    link: LinkName = "pcie4_x16"
    bandwidth_gb_per_s: BandwidthGBps | None = Field(default=None, gt=0)
    latency_us: Float = Field(default=COPY_LATENCY_US, ge=0, le=1e6)
    energy_pj_per_bit: Float | None = Field(default=None, ge=0, le=1e6)
    memory: str = "ddr4_2400"
    capacity_gib: Float | None = Field(default=None, gt=0, le=1 << 30)
    offload: Literal["none", "on_demand", "prefetch"] = "none"
    device_weights_gib: Float | None = Field(default=None, ge=0, le=1 << 30)

    @model_validator(mode="after")
    def _fill_from_link(self) -> HostLink:
        from pysim.config.dram_presets import DRAM_PRESETS
        from pysim.config.yaml_io import FieldError

        if self.memory not in DRAM_PRESETS:
            raise FieldError("memory", self.memory,
                             f"must be a DRAM preset: one of {sorted(DRAM_PRESETS)}")
        spec = LINKS[self.link]
        if self.bandwidth_gb_per_s is None:  # frozen model: fill before anyone sees it
            object.__setattr__(self, "bandwidth_gb_per_s",
                               round(spec.gb_per_s * spec.efficiency, 6))
        if self.energy_pj_per_bit is None:
            object.__setattr__(self, "energy_pj_per_bit", spec.pj_per_bit)
        return self

    @property
    def bytes_per_s(self) -> float:
        assert self.bandwidth_gb_per_s is not None  # filled by the validator
        return self.bandwidth_gb_per_s * 1e9

    def copy_seconds(self, nbytes: float) -> float:
        """One copy of ``nbytes`` from host memory: its latency, then the bytes at the link's
        achieved bandwidth."""
        return self.latency_us * 1e-6 + nbytes / self.bytes_per_s

    def pj_per_byte(self, device_write_pj_per_bit: float) -> float:
        """Energy of one byte copied in: the host memory's read, the link, and the device
        memory's write (``device_write_pj_per_bit``, the hardware's DRAM)."""
        from pysim.config.dram_presets import DRAM_PRESETS

        host_read = DRAM_PRESETS[self.memory].energy_pj_per_bit
        assert self.energy_pj_per_bit is not None  # filled by the validator
        return 8 * (host_read + self.energy_pj_per_bit + device_write_pj_per_bit)


def with_offload(hw: Hardware, mode: str) -> Hardware:
    """``hw`` with ``host.offload`` set to ``mode`` (``OFFLOAD_MODES``). Raises ConfigError for
    an unknown mode, or a mode other than "none" on a hardware without a ``host`` link."""
    from pysim.errors import ConfigError

    if mode not in OFFLOAD_MODES:
        raise ConfigError(f"offload must be one of {list(OFFLOAD_MODES)}, got {mode!r}")
    if hw.host is None:
        if mode == "none":
            return hw
        raise ConfigError(f"offload={mode!r}: hardware {hw.name!r} has no link to host "
                          "memory; add one (host: {link: pcie4_x16}; links: pcie3_x16, "
                          "pcie4_x16, pcie5_x16, nvlink_c2c)")
    return hw.with_overrides({"host.offload": mode})
