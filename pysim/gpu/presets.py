"""GPU presets and their tensor-core peak and GEMM-time models: data-centre V100, A100 (80 and
40 GB), H100, H200, B200, L40S; GeForce RTX 3090 and RTX 4090; Jetson AGX Orin 64 GB.

Every number carries its source (``GpuPreset.sources``; docs/tensor_cores.md has the table).
Peak rates are exact products: SMs x tensor-core MACs per SM per clock x 2 x clock. A rate is
keyed by (input dtype, accumulator, 2:4 sparsity): ``acc`` defaults to fp32 for float inputs and
int32 for integers; GeForce parts (``fp32_acc_half_rate``) run float inputs accumulating in fp32
at half the rate of fp16 accumulation, as their whitepapers' "with FP32 Accumulate" rows. The GEMM
time is the C++ closed form (``pysim._core.gpu_gemm_cost``): CTA tiles chosen by a small search
like a library heuristic, waves over the SMs, MMA, shared-memory, L2 and HBM time per wave,
epilogue, split-K reduction and launch overhead. ``batch=B`` costs one strided-batched kernel of
B independent GEMMs of the shape: the CTAs of all B share one grid and its waves.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from pysim import _core
from pysim.config.units import RowKernel
from pysim.errors import ConfigError
from pysim.gpu.dtypes import normalize_dtype

if TYPE_CHECKING:
    from pysim.config import Hardware
    from pysim.config.units import TensorCoreUnit

# A kernel configuration: (tile_m, tile_n, tile_k, split_k) or with (cluster_m, cluster_n).
Tile = tuple[int, ...]

ARCHS: tuple[str, ...] = tuple(_core.tc_archs())
ACCS = ("fp32", "fp16", "int32")
_ACC_ALIASES = {"float32": "fp32", "f32": "fp32", "float16": "fp16", "half": "fp16", "f16": "fp16",
                "s32": "int32", "i32": "int32"}

_V100_WP = "NVIDIA Tesla V100 GPU Architecture whitepaper (WP-08608-001_v1.1, 2017)"
_A100_WP = "NVIDIA A100 Tensor Core GPU Architecture whitepaper (v1.0, 2020)"
_A100_DS = "NVIDIA A100 80GB PCIe/SXM datasheet (2021)"
_H100_WP = "NVIDIA H100 Tensor Core GPU Architecture whitepaper (v1.0x, 2022)"
_H100_DS = "NVIDIA H100 Tensor Core GPU datasheet (2022/2023), SXM5 column"
_H200_DS = "NVIDIA H200 Tensor Core GPU datasheet (2024), H200 SXM column"
_GH200_DS = ("NVIDIA GH200 Grace Hopper Superchip datasheet (2023), GH200 480GB column (96 GB "
             "HBM3)")
_GH_WP = "NVIDIA Grace Hopper Superchip Architecture whitepaper (v1.2, 2023)"
_A100_40_DS = "NVIDIA A100 Tensor Core GPU datasheet (2020, 40 GB), SXM column"
_GA102_WP = ("NVIDIA Ampere GA102 GPU Architecture whitepaper (v2.0, 2020), Appendix A, "
             "GeForce RTX 3090 column")
_ADA_WP = ("NVIDIA Ada GPU Architecture whitepaper (v2.1, 2023), Appendix A, GeForce RTX 4090 "
           "column")
_L40S_DS = "NVIDIA L40S datasheet (2023)"
_A6000_DS = "NVIDIA RTX A6000 datasheet (2021)"
_T4_DS = "NVIDIA T4 Tensor Core GPU datasheet (2019)"
_TURING_WP = "NVIDIA Turing GPU Architecture whitepaper (WP-09183-001_v01, 2018), Appendix A"
_ORIN_TB = "NVIDIA Jetson AGX Orin Series Technical Brief (v1.2, 2022), Jetson AGX Orin 64GB"
_B200_DS = ("NVIDIA HGX B200 specifications (GB200 NVL72 / HGX B200 datasheet, 2024/2025), "
            "per-GPU HGX B200 column")
_CUDA_CC = ("CUDA C++ Programming Guide, technical specifications per compute capability "
            "(65536 32-bit registers per SM; maximum shared memory per SM)")
_GEFORCE_ACC = ("GeForce: fp16 / bf16 / tf32 / fp8 accumulating in fp32 run at half the rate "
                "of fp16 accumulation (the whitepaper's 'with FP32 Accumulate' rows)")
_SMEM_BW = (
    "32 banks x 4 B per clock per SM (CUDA C++ Programming Guide, shared memory of compute "
    "capability 7.x-9.x)"
)
_LAUNCH = (
    "~3-5 us per kernel launch on current drivers (NVIDIA Technical Blog, A. Gray, "
    "'Getting Started with CUDA Graphs', 2019); 4 us taken"
)
# Device-side fixed times of a kernel (docs/tensor_cores.md, "Kernel latency"), measured on an
# H200 (benchmarks/data/h200_kernels; tests/test_gpu_latency.py recomputes both): between
# back-to-back kernels of a CUDA graph, a one-element kernel every 1.14-1.24 us (env.csv,
# env_run2.csv: median 1.19); a GEMM kernel's pipeline fill and drain beyond that and its own
# work, the median of the 64^3 and 128^3 fp16 / bf16 / fp8 GEMMs of two runs (one wave each)
# less the kernel latency and the model's main loop and epilogue (2.22-2.83 us, median 2.51).
# Rounded to 0.1 us.
KERNEL_LATENCY_US = 1.2
PIPELINE_LATENCY_US = 2.5
# The SM clock of tensor-core-bound kernels under the H200's 700 W board limit
# (benchmarks/data/h200_kernels/sustained.csv: 8192^3 / 4096^3 GEMMs on random operands back to
# back for 2 s, NVML sampled every 20 ms: medians 1320 (fp8), 1395 (fp16), 1470 (bf16 8192^3),
# 1500 MHz (bf16 4096^3), the power-cap clock-event reason set; their median, rounded to 10 MHz,
# as tests/test_gpu_clusters.py recomputes it). The datasheet's 1830 MHz holds only while the
# board is under its limit (all-zero operands: 413 W at 1725 MHz).
MMA_CLOCK_MHZ = 1430.0
# The fraction of the MMA peak at the clock it runs that a long GEMM's main loop sustains,
# beyond what the model's waves, padding, epilogue and latencies take: each sustained.csv row's
# modelled main loop at its own median clock over its measured time less the model's other
# terms: 0.864 (bf16 8192^3), 0.867 (bf16 zeros, at a steady 1725 MHz below the limit), 0.883
# (bf16 4096^3), 0.868 (fp16), 0.879 (fp8); their median, rounded to 0.01, as
# tests/test_gpu_clusters.py recomputes it. cuBLAS's 8192^3 reaches 83 % of the peak at its
# clock (776 TFLOPS at 1725 MHz with zeros); the model's waves and latencies took 4 points.
MMA_EFFICIENCY = 0.87
# A CUDA-core (streaming) kernel's memory round trip beyond the kernel latency: its first loads'
# latency and its last stores' drain, which a GEMM's pipeline latency already holds. Measured on
# the H200 (benchmarks/data/h200_kernels/eltwise.csv; tests/test_gpu_latency.py recomputes it):
# add, ReLU and GELU over 65,536 and 1,048,576 fp16 elements take 1.2-2.6 us beyond their bytes
# at the sustained bandwidth, median 2.19; less the 1.19 us kernel latency; rounded to 0.1 us.
STREAM_LATENCY_US = 1.0
# PyTorch's one-CTA-per-row kernels on an H200 (benchmarks/data/h200_kernels/eltwise.csv:
# fp16 rows of 4096 values, 16 to 32768 rows; the least-squares fit of
# latency + first + (ceil(rows / SMs) - 1) x row bytes / per-SM bandwidth that
# benchmarks/validate_h200_kernels.py prints, within 2.5 % of each of the eight timings):
# cunn_SoftMaxForwardReg and vectorized_layer_norm_kernel (<..., false> and, for rms_norm,
# <..., true>).
SOFTMAX_ROWS = RowKernel(latency_us=2.57, sm_gb_per_s=9.8)
NORM_ROWS = RowKernel(latency_us=5.78, sm_gb_per_s=21.1)
RMS_NORM_ROWS = RowKernel(latency_us=3.94, sm_gb_per_s=26.7)
_ROWS = ("measured on an H200 (benchmarks/data/h200_kernels/eltwise.csv): PyTorch's block "
         "softmax (cunn_SoftMaxForwardReg), layer norm and RMS norm "
         "(vectorized_layer_norm_kernel) over 16-32768 fp16 rows of 4096 values, fitted by "
         "benchmarks/validate_h200_kernels.py (first row 2.57 / 5.78 / 3.94 us after the "
         "kernel latency, then 9.8 / 21.1 / 26.7 GB/s per SM; every timing within 2.5 %)")
_MMA_CLOCK = (
    "measured on an H200 (benchmarks/data/h200_kernels/sustained.csv): the median SM clock of "
    "back-to-back random-operand GEMMs at the 700 W power limit (1320-1500 MHz, median 1430); "
    "the compute term of tensor-core-bound kernels runs at it"
)
_MMA_EFFICIENCY = (
    "measured on an H200 (benchmarks/data/h200_kernels/sustained.csv): a long GEMM's main loop "
    "sustains 0.86-0.88 (median 0.87) of the MMA peak at its measured clock beyond the model's "
    "waves, padding and latencies; GEMMs' and fused attention's MMA terms run at it"
)
_LATENCY = (
    "measured on an H200 (benchmarks/data/h200_kernels, CUDA graph of back-to-back kernels): "
    "kernel latency 1.2 us (a one-element kernel), pipeline latency 2.5 us (64^3 / 128^3 GEMMs "
    "less the kernel latency and their work)"
)
# The fastest streaming kernel measured on the H200 (tests/test_gpu_hardware.py recomputes it
# from benchmarks/data/gemm_h200_cublas.csv), rounded to two digits.
HBM_EFFICIENCY = 0.86
# NVLink: NVIDIA quotes the bidirectional aggregate per GPU (A100 600 GB/s = 12 links x 25
# GB/s x 2 directions); a GPU sends half of it while it receives the other half, so the
# hardware description's ``interconnect.bandwidth_gb_per_s`` is half the datasheet figure.
_NVLINK_DIRECTION = ("; bidirectional aggregate per GPU: the hardware description's "
                     "interconnect.bandwidth_gb_per_s is half of it, per direction")
# One step of a ring collective over NVLink with ``collectives="ring"`` (one protocol): NCCL's
# own cost model, src/graph/tuning.cc, hwLat [NVLINK][Ring][LL128] = 1.9 us.
NVLINK_LATENCY_US = 1.9
# Collectives over NVLink as NCCL prices them (pysim/interconnect.py, NCCL_PROTOCOLS).
_NCCL_MODEL = ("NCCL's own cost model (NVIDIA/nccl src/graph/tuning.cc, commit b647562, NCCL "
               "2.19; pysim/interconnect.py): per call the fastest of LL / LL128 / Simple, "
               "baseLat 6.6 / 14.0 / 8.4 us plus per ring step hwLat NVLink 0.6 / 1.9 / 3.4 "
               "us, bandwidth 1/4 (at most 87.7 GB/s) / 0.92 / all of the link")
_HBM_EFFICIENCY = (
    "0.86: the fastest streaming kernel of benchmarks/data/gemm_h200_cublas.csv (tf32 GEMV "
    "1 x 8192 x 8192, 268 MB in 65.2 us: 4.12 of the H200's 4.8 TB/s, CUDA graph), taken for "
    "every GPU (an ESTIMATE elsewhere; STREAM-like kernels reach 85-92 % of HBM peak)"
)


FUSION = ("epilogue", "none")
# The fused-attention kernel (pysim/gpu/attention.py): FlashAttention-2 everywhere, or
# FlashAttention-3 on Hopper (sm90 only: its wgmma / TMA kernels).
ATTENTION = ("flash2", "flash3")

# The process node each architecture is built in (energies are scaled to it) and the DRAM preset
# that prices its off-chip bytes: TSMC 12FFN (Volta, Turing: GDDR6), N7, 4N; GA10x Samsung 8N
# (GDDR6X), GA10B Samsung 8 nm (LPDDR5), Ada TSMC 4N (GDDR6 / GDDR6X), Blackwell TSMC 4NP
# (HBM3e). pysim.config has no GDDR6 / GDDR6X / LPDDR5 / HBM3e preset: the nearest one stands in
# for the energy per bit (lpddr4_3200, 5 pJ/bit; hbm3), an estimate.
NODE_NM = {"volta": 12, "turing": 12, "ampere": 7, "hopper": 4, "ga10x": 8, "ga10b": 8, "ada": 4,
           "blackwell": 4}
HBM = {"volta": "hbm2", "turing": "lpddr4_3200", "ampere": "hbm2", "hopper": "hbm3",
       "ga10x": "lpddr4_3200", "ga10b": "lpddr4_3200", "ada": "lpddr4_3200", "blackwell": "hbm3"}
L2_WORD_BITS = 64  # the L2 is priced per 64-bit access, as the shared memory


def _l2_banks(size_bytes: int, bytes_per_clk: float) -> tuple[int, int]:
    """(banks, ports per bank) of 64-bit words that give ``bytes_per_clk`` and divide
    ``size_bytes`` (a hardware scratchpad's rule). Raises ConfigError if none does."""
    words = bytes_per_clk / (L2_WORD_BITS // 8)
    if words == int(words):
        for ports in range(1, 17):
            banks = int(words) // ports
            if banks * ports == words and banks <= 4096 and size_bytes % (banks * 8) == 0:
                return banks, ports
    raise ConfigError(f"L2 of {size_bytes} bytes at {bytes_per_clk:g} B/clk is not a whole "
                      "number of 64-bit banks (<= 4096) x ports (<= 16)")


@dataclass(frozen=True)
class GpuPreset:
    """One GPU for the tensor-core model. Sizes in KB/GB as the datasheets quote them.

    ``boost_clock_mhz`` is the clock the datasheet's tensor-core figures assume; bandwidths in
    GB/s (HBM) and bytes per clock (L2 for the chip, shared memory per SM);
    ``launch_overhead_us`` is the host's cost of one launch (a kernel alone pays it; on a
    stream it hides behind longer kernels: pysim/gpu/kernels.py); kernels move HBM bytes at
    ``hbm_efficiency`` of ``hbm_bandwidth_gb_per_s`` (``hbm_sustained_gb_per_s``). Build one
    with ``preset(name)`` and change fields with ``replace(**changes)``.

    Raises ConfigError if a field is out of range.
    """

    name: str
    full_name: str
    arch: str
    sms: int
    boost_clock_mhz: float
    tensor_cores_per_sm: int
    register_file_kb_per_sm: int
    shared_memory_kb_per_sm: int
    l2_kb: int
    hbm_gb: int
    hbm_bandwidth_gb_per_s: float
    l2_bandwidth_bytes_per_clk: float
    smem_bandwidth_bytes_per_clk: float = 128.0
    launch_overhead_us: float = 4.0
    # Device-side fixed times: between back-to-back kernels of a stream, and once per GEMM
    # kernel (set-up, first k-blocks' load latency, last stores); docs/tensor_cores.md.
    # (measured on an H200 and set on the h200 preset; 0 elsewhere until measured there)
    kernel_latency_us: float = 0.0
    pipeline_latency_us: float = 0.0
    # A CUDA-core kernel's memory round trip beyond kernel_latency_us (first loads, last
    # stores); a GEMM's pipeline_latency_us holds its own. Measured on the h200; 0 elsewhere.
    stream_latency_us: float = 0.0
    # The SM clock while the tensor cores bound a kernel, under the board's power limit
    # (measured; 0: the boost clock, where unmeasured; capped at the boost clock): GEMMs' and
    # fused attention's compute terms run at it, their memory terms at the boost clock.
    mma_clock_mhz: float = 0.0
    # The fraction of the MMA peak at that clock a long GEMM's main loop sustains beyond what
    # the model's waves, padding, epilogue and latencies take (measured; 1: none, where
    # unmeasured): GEMMs' and fused attention's MMA terms run at mma_clock_mhz x it.
    mma_efficiency: float = 1.0
    # Kernels that run one CTA per row: PyTorch's block softmax (rows over 2048 values or
    # 8 KiB), its layer norm and RMS norm (``RowKernel``: the first row's latency, then each SM's
    # bandwidth; pysim/gpu/kernels.py). Measured on the h200; None elsewhere: streamed at the
    # HBM bandwidth like every CUDA-core kernel.
    softmax_rows: RowKernel | None = None
    norm_rows: RowKernel | None = None
    rms_norm_rows: RowKernel | None = None
    # Sustained over datasheet HBM bandwidth: what a streaming kernel achieves.
    hbm_efficiency: float = HBM_EFFICIENCY
    # "epilogue": elementwise ops after a GEMM / convolution run in its epilogue (bias,
    # activation, residual add, (de)quantization), as cuBLASLt, TensorRT and torch.compile
    # fuse them; "none": each is its own kernel.
    fusion: str = "epilogue"
    # the fused-attention kernel: "flash2" (FlashAttention-2) or "flash3" (FlashAttention-3,
    # Hopper only)
    attention: str = "flash2"
    # GeForce parts: float inputs accumulating in fp32 run at half the tensor-core rate.
    fp32_acc_half_rate: bool = False
    # NVLink, as the datasheet quotes it: bidirectional aggregate per GPU (GB/s); None: none
    # (PCIe only). ``nvlink_latency_us``: one ring-collective step over it;
    # ``nccl_call_overhead_us``: the fixed cost of one collective call over it (None: one
    # kernel launch, ``launch_overhead_us``).
    nvlink_gb_per_s: float | None = None
    nvlink_latency_us: float = NVLINK_LATENCY_US
    nccl_call_overhead_us: float | None = None
    # How collectives over NVLink are priced (``interconnect.collectives``): "nccl", NCCL's
    # own cost model, the fastest of its protocols per call (pysim/interconnect.py); "ring",
    # one protocol with ``nvlink_latency_us`` per step and ``call_overhead_us`` per call.
    collectives: str = "nccl"
    # The link to host memory (pysim/config/host.py, ``LINKS``): "pcie3_x16", "pcie4_x16",
    # "pcie5_x16" or "nvlink_c2c"; None: none (the Jetson's GPU shares the CPU's memory).
    # ``host_memory_gb``: the host memory where the part fixes it (a superchip's), else None;
    # ``host_memory``: the DRAM preset that prices its reads.
    host_link: str | None = None
    host_memory_gb: int | None = None
    host_memory: str = "ddr4_2400"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        for name in ("sms", "tensor_cores_per_sm", "register_file_kb_per_sm",
                     "shared_memory_kb_per_sm", "l2_kb", "hbm_gb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        for name in ("boost_clock_mhz", "hbm_bandwidth_gb_per_s", "l2_bandwidth_bytes_per_clk",
                     "smem_bandwidth_bytes_per_clk", "hbm_efficiency"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a number > 0, got {value!r}")
        if self.fusion not in FUSION:
            raise ConfigError(f"fusion must be one of {FUSION}, got {self.fusion!r}")
        if self.attention not in ATTENTION:
            raise ConfigError(f"attention must be one of {ATTENTION}, got {self.attention!r}")
        if self.attention == "flash3" and self.arch != "hopper":
            raise ConfigError(f"attention 'flash3' (FlashAttention-3) runs on hopper (sm90) "
                              f"only; {self.name} is {self.arch}: use 'flash2'")
        if not isinstance(self.fp32_acc_half_rate, (bool, np.bool_)):
            raise ConfigError(
                f"fp32_acc_half_rate must be True or False, got {self.fp32_acc_half_rate!r}")
        object.__setattr__(self, "fp32_acc_half_rate", bool(self.fp32_acc_half_rate))
        nvl = self.nvlink_gb_per_s
        if nvl is not None and (isinstance(nvl, bool) or not isinstance(nvl, (int, float))
                                or not nvl > 0):
            raise ConfigError(f"nvlink_gb_per_s must be a number > 0 or None, got {nvl!r}")
        from pysim.config.host import LINKS

        if self.host_link is not None and self.host_link not in LINKS:
            raise ConfigError(f"host_link must be one of {list(LINKS)} or None, got "
                              f"{self.host_link!r}")
        from pysim.config import DRAM_PRESETS

        if self.host_memory not in DRAM_PRESETS:
            raise ConfigError(f"host_memory must be a DRAM preset, one of "
                              f"{sorted(DRAM_PRESETS)}, got {self.host_memory!r}")
        gb = self.host_memory_gb
        if gb is not None and (isinstance(gb, bool) or not isinstance(gb, (int, np.integer))
                               or gb <= 0):
            raise ConfigError(f"host_memory_gb must be an integer > 0 or None, got {gb!r}")
        if self.collectives not in ("nccl", "ring"):
            raise ConfigError(f"collectives must be 'nccl' or 'ring', got {self.collectives!r}")
        for name in ("nvlink_latency_us", "nccl_call_overhead_us"):
            lat = getattr(self, name)
            if name == "nccl_call_overhead_us" and lat is None:
                continue
            if isinstance(lat, bool) or not isinstance(lat, (int, float)) or not lat >= 0:
                raise ConfigError(f"{name} must be >= 0, got {lat!r}")
        lat = self.stream_latency_us
        if (isinstance(lat, bool) or not isinstance(lat, (int, float))
                or not (0 <= lat <= 1e6)):
            raise ConfigError(f"stream_latency_us must be a number in 0..1e6, got {lat!r}")
        for name in ("softmax_rows", "norm_rows", "rms_norm_rows"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                try:
                    value = RowKernel.model_validate(dict(value))
                except ValueError as err:
                    first = err.errors()[0] if hasattr(err, "errors") else {}
                    where = ".".join(str(x) for x in first.get("loc", ()))
                    raise ConfigError(f"{name}.{where}: {first.get('msg', err)}, got "
                                      f"{first.get('input')!r}") from None
                object.__setattr__(self, name, value)
            elif value is not None and not isinstance(value, RowKernel):
                raise ConfigError(f"{name} must be a RowKernel, a mapping with latency_us and "
                                  f"sm_gb_per_s, or None, got {value!r}")
        mclk = self.mma_clock_mhz
        if (isinstance(mclk, bool) or not isinstance(mclk, (int, float))
                or not (mclk == 0 or 1 <= mclk <= 1e5)):
            raise ConfigError(f"mma_clock_mhz must be 0 (the boost clock) or in 1..100000 MHz, "
                              f"got {mclk!r}")
        eff = self.mma_efficiency
        if (isinstance(eff, bool) or not isinstance(eff, (int, float))
                or not 0 < eff <= 1):
            raise ConfigError(f"mma_efficiency must be in (0, 1], got {eff!r}")
        value = self.launch_overhead_us
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigError(
                f"launch_overhead_us must be >= 0, got {self.launch_overhead_us!r}"
            )
        object.__setattr__(self, "sources", types.MappingProxyType(dict(self.sources)))
        _ = self.spec  # the C++ side validates the rest (SM count range, sizes > 0)

    @property
    def hbm_sustained_gb_per_s(self) -> float:
        """The HBM bandwidth kernels achieve: datasheet x ``hbm_efficiency`` (GB/s)."""
        return self.hbm_bandwidth_gb_per_s * self.hbm_efficiency

    @property
    def tensor_clock_mhz(self) -> float:
        """The clock tensor-core-bound work runs at: ``mma_clock_mhz`` (never above the boost
        clock), or the boost clock where it is 0."""
        return float(min(self.mma_clock_mhz or self.boost_clock_mhz, self.boost_clock_mhz))

    @property
    def call_overhead_us(self) -> float:
        """The fixed cost of one collective call over NVLink (µs) on top of the link model:
        ``nccl_call_overhead_us``, else none with ``collectives="nccl"`` (NCCL's base
        latencies include its launch) and one kernel launch (``launch_overhead_us``) with
        ``"ring"``."""
        if self.nccl_call_overhead_us is not None:
            return float(self.nccl_call_overhead_us)
        return 0.0 if self.collectives == "nccl" else float(self.launch_overhead_us)

    def replace(self, **changes: object) -> GpuPreset:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # --- as a hardware description ------------------------------------------------------------

    def hardware_dict(self) -> dict[str, object]:
        """This GPU as hardware-description data (configs/gpu/<name>.yaml): a ``tensor_core``
        unit for the SMs, the CUDA cores as the vector unit (FP32 lanes per SM x SMs), the L2
        as the one scratchpad, the HBM as ``dram`` (its architecture's DRAM preset, with
        enough channels for the datasheet bandwidth, which caps it; ``capacity_gib``), and
        NVLink, where the GPU has it, as ``interconnect`` (per direction: half the datasheet's
        bidirectional figure)."""
        from pysim.config import DRAM_PRESETS
        from pysim.gpu.attention import FP32_LANES_PER_SM

        banks, ports = _l2_banks(self.l2_kb * 1024, self.l2_bandwidth_bytes_per_clk)
        dram = DRAM_PRESETS[HBM[self.arch]].fields()
        per_channel = dram["bus_bits"] / 8 * dram["data_rate_mtps"] / 1000
        out: dict[str, object] = {
            "name": self.name,
            "clock_ghz": self.boost_clock_mhz / 1000,
            "technology_nm": NODE_NM[self.arch],
            "units": [{
                "kind": "tensor_core", "name": "tensor_cores", "description": self.full_name,
                "arch": self.arch, "sms": self.sms,
                "tensor_cores_per_sm": self.tensor_cores_per_sm,
                "register_file_kib_per_sm": self.register_file_kb_per_sm,
                "shared_memory_kib_per_sm": self.shared_memory_kb_per_sm,
                "smem_bandwidth_bytes_per_clk": self.smem_bandwidth_bytes_per_clk,
                "launch_overhead_us": self.launch_overhead_us,
                "kernel_latency_us": self.kernel_latency_us,
                "pipeline_latency_us": self.pipeline_latency_us,
                "stream_latency_us": self.stream_latency_us,
                "mma_clock_mhz": self.mma_clock_mhz,
                "mma_efficiency": self.mma_efficiency,
                **{name: rows.model_dump() for name, rows in
                   (("softmax_rows", self.softmax_rows), ("norm_rows", self.norm_rows),
                    ("rms_norm_rows", self.rms_norm_rows))
                   if rows is not None},
                "fusion": self.fusion,
                "attention": self.attention,
                "fp32_acc_half_rate": self.fp32_acc_half_rate,
            }],
            "vector": {"name": "cuda_cores", "lanes": self.sms * FP32_LANES_PER_SM[self.arch],
                       "ops_per_lane_per_cycle": 1, "bits": 16},
            "scratchpads": [{
                "name": "l2", "size_kib": self.l2_kb, "banks": banks, "ports_per_bank": ports,
                "word_bits": L2_WORD_BITS, "double_buffered": False,
                "holds": ["input", "weight", "output"],
            }],
            # the pins carry the datasheet bandwidth; kernels sustain hbm_efficiency of it
            "dram": {"preset": HBM[self.arch],
                     "channels": math.ceil(self.hbm_bandwidth_gb_per_s / per_channel),
                     "bandwidth_gb_per_s": round(self.hbm_sustained_gb_per_s, 6),
                     "capacity_gib": self.hbm_gb},
        }
        if self.nvlink_gb_per_s is not None:
            link: dict[str, object] = {"bandwidth_gb_per_s": self.nvlink_gb_per_s / 2}
            if self.collectives == "nccl":
                link.update(collectives="nccl", link="nvlink")
            else:
                link["latency_us"] = self.nvlink_latency_us
            link["call_overhead_us"] = self.call_overhead_us
            out["interconnect"] = link
        if self.host_link is not None:
            host: dict[str, object] = {"link": self.host_link}
            if self.host_memory != "ddr4_2400":
                host["memory"] = self.host_memory
            if self.host_memory_gb is not None:
                host["capacity_gib"] = self.host_memory_gb
            out["host"] = host
        return out

    @functools.cached_property
    def hardware(self) -> Hardware:
        """This GPU as a ``pysim.Hardware`` (``hardware_dict``), what ``pysim.simulate`` runs."""
        from pysim.config.loader import hardware_from_dict

        return hardware_from_dict(self.hardware_dict(), source=f"GPU preset {self.name!r}")

    @classmethod
    def of(cls, hw: Hardware, unit: TensorCoreUnit | None = None) -> GpuPreset:
        """The GEMM / attention kernel model of a hardware description's ``tensor_core`` unit
        (``unit``, else its first): its SMs, the hardware's clock, its outermost scratchpad as
        the L2 and its DRAM as the HBM. Raises ConfigError if the hardware has none."""
        from pysim.config.units import TensorCoreUnit

        if unit is None:
            unit = next((u for u in hw.units if isinstance(u, TensorCoreUnit)), None)
        if unit is None:
            raise ConfigError(f"hardware {hw.name!r} has no tensor_core unit")
        l2 = hw.chain("input")[-1]
        return _kernel_model(hw.name, unit, round(hw.clock_ghz * 1000, 9), l2.size_bytes,
                             float(l2.bytes_per_cycle), float(hw.dram.bandwidth_gb_per_s),
                             hw.dram.capacity_gib)

    @functools.cached_property
    def spec(self) -> _core.GpuSpec:
        """The C++ view of this GPU (built once per preset)."""
        try:
            return _core.GpuSpec(
                arch=self.arch,
                sms=int(self.sms),
                clock_mhz=float(self.boost_clock_mhz),
                register_file_bytes_per_sm=int(self.register_file_kb_per_sm) * 1024,
                smem_bytes_per_sm=int(self.shared_memory_kb_per_sm) * 1024,
                l2_bytes=int(self.l2_kb) * 1024,
                hbm_bandwidth_gb_per_s=float(self.hbm_sustained_gb_per_s),
                l2_bandwidth_bytes_per_clk=float(self.l2_bandwidth_bytes_per_clk),
                smem_bandwidth_bytes_per_clk=float(self.smem_bandwidth_bytes_per_clk),
                launch_overhead_us=float(self.launch_overhead_us),
                fp32_acc_half_rate=bool(self.fp32_acc_half_rate),
                kernel_latency_us=float(self.kernel_latency_us),
                pipeline_latency_us=float(self.pipeline_latency_us),
                mma_clock_mhz=float(self.mma_clock_mhz),
                mma_efficiency=float(self.mma_efficiency),
            )
        except ValueError as err:
            raise ConfigError(f"GPU preset {self.name!r}: {err}") from None

    # --- tensor-core rates ------------------------------------------------------------------

    def supported_dtypes(self, sparse: bool = False) -> tuple[str, ...]:
        """Dtypes this GPU's tensor cores run (with 2:4 sparsity if ``sparse``)."""
        return tuple(d for d in _core.tc_dtypes() if _core.tc_supports(self.arch, d, sparse))

    def supported_accs(self, dtype: str) -> tuple[str, ...]:
        """Accumulator dtypes this GPU's MMA offers for input ``dtype`` (the default first);
        empty where the tensor cores lack ``dtype``."""
        return tuple(_core.tc_supported_accs(self.arch, self._dtype(dtype)))

    def mma_shape(self, dtype: str, sparse: bool = False) -> tuple[int, int, int]:
        """(m, n, k) of the warp-level MMA instruction for ``dtype``. ValueError if unsupported."""
        m, n, k = _core.tc_mma_shape(self.arch, self._dtype(dtype), bool(sparse))
        return m, n, k

    def macs_per_clk_per_sm(self, dtype: str, sparse: bool = False, acc: str | None = None) -> int:
        """Tensor-core MACs per SM per clock for input ``dtype`` accumulating in ``acc`` (None:
        fp32 for floats, int32 for integers), doubled by 2:4 sparsity where supported; halved
        for float inputs accumulating in fp32 on GeForce parts (``fp32_acc_half_rate``).

        Raises ValueError if the tensor cores lack ``dtype``, its sparse mode or the pair.
        """
        name = self._dtype(dtype)
        return _core.tc_macs_per_clk_per_sm(self.arch, name, bool(sparse), self._acc(name, acc),
                                            self.fp32_acc_half_rate)

    def peak_tflops(self, dtype: str, sparse: bool = False, acc: str | None = None) -> float:
        """Peak tensor-core TFLOPS (TOPS for integer dtypes): SMs x MACs/clk x 2 x clock.

        Raises ValueError if this architecture's tensor cores lack ``dtype`` (fp8 on A100), its
        sparse mode, or the (dtype, acc) pair (bf16 accumulating in fp16).
        """
        macs = self.macs_per_clk_per_sm(dtype, sparse, acc)
        return self.sms * macs * 2 * self.boost_clock_mhz * 1e6 / 1e12

    # --- GEMM time --------------------------------------------------------------------------

    def gemm_cost(
        self,
        M: int,
        N: int,
        K: int,
        dtype: str = "fp16",
        sparse: bool = False,
        *,
        out_bytes: int | None = None,
        tile: Tile | None = None,
        batch: int = 1,
        acc: str | None = None,
        a_bits: int | None = None,
        b_bits: int | None = None,
        b_group: int | None = None,
        out_bits: int | None = None,
        a_row: int | None = None,
        b_row: int | None = None,
        l2_resident: bool = False,
    ) -> _core.GemmCost:
        """Closed-form time and traffic of C[M, N] = A[M, K] x B[K, N] as one kernel.

        ``sparse``: A is 2:4 structured sparse along K (twice the MMA rate, half of A's values
        plus 2-bit metadata each). ``out_bytes``: bytes per C element (default: 2 for
        fp16/bf16/fp8, 4 otherwise). ``tile``: (tile_m, tile_n, tile_k, split_k) or (...,
        cluster_m, cluster_n) to cost one configuration instead of searching; a cluster (Hopper,
        Blackwell) multicasts A across its cluster_n CTAs and B across its cluster_m.
        ``batch``: the kernel computes ``batch`` independent GEMMs of this shape (strided
        batched, one launch; their CTAs share the waves); MACs, bytes and times cover all of
        them. ``acc``: the accumulator ("fp32", "fp16", "int32"; None: fp32 for floats, int32
        for integers) sets the rate and the accumulator bytes in registers, epilogue and
        split-K partials.

        Weight-only quantization (W4A16 / W8A16, AWQ / GPTQ / Marlin kernels): ``a_bits`` /
        ``b_bits`` store A / B at that many bits per element in HBM, L2 and shared memory
        (None: the dtype's width; 1, 2, 4, 8, 16 or 32, at most the dtype's). An operand
        narrower than the MMA input is dequantized in the main loop on the CUDA cores (2 ops
        per element per CTA k-block, added to the MMA term). ``b_group``: K elements sharing
        one fp16 scale per column of B (a power of two in 16..65536, or K; None: no scales);
        the scales add to B's traffic. ``out_bits``: bits per stored C element when C is
        packed below a byte (4: fp4 / int4, two a byte; 6: fp6; None: 8 x ``out_bytes``); the
        CTAs store (and split-K's reduction writes) ceil(elements x out_bits / 8) bytes.

        Alignment: A's rows (K values) and C's (N values) are taken row-major and contiguous,
        C's counted in elements too (cuBLAS's one kernel alignment); rows that are not 16-byte
        aligned rule out TMA, so on Hopper and Blackwell fp16 / bf16 / tf32 / int8 run CUTLASS's
        sm80 kernels, which load in vectors of the rows' alignment (8 or 4 bytes, 4 for int8;
        one element for an odd K or N in fp16: the align-1 kernels cuBLAS ran 4095^3 with on an
        H200, 5.2x (fp16) and 2.9x (tf32) slower than 4096^3), about 3.6 loads a clock per SM.
        ``a_row``: the values of A contiguous in memory where not K (an implicit-GEMM
        convolution gathers its rows from NHWC pixels of ``a_row`` channels). ``b_row``: B's
        row, where its layout is known (a weight gradient's dY: rows of N); otherwise only A's
        and C's rows count (a weight is N x K, a V cache K x N). Rows need more than one row and
        value to count.
        ``l2_resident``: A, B, C (and split-K's partials) are already in the L2 and stay there,
        as when a timing loop replays the kernel on buffers that fit the L2 (a "hot" L2): the
        k-blocks and stores move between the L2 and the SMs only, no HBM bytes (default: cold,
        every operand from the HBM).
        Raises ValueError on bad dims, batch, dtype, (dtype, acc) pair, widths or group
        (naming the field).
        """
        args, a = self._gemm_args(M, N, K, dtype, sparse, out_bytes, acc)
        b = _batch(batch)
        q = _widths(a_bits, b_bits, b_group, out_bits)
        rows = _rows(a_row, b_row)
        hot = _flag("l2_resident", l2_resident)
        if tile is None:
            return _searched_cost(self.spec, args, b, a, tuple(q.values()),
                                  (rows["a_row"], rows["b_row"]), hot)
        shape, (cm, cn) = _tile(tile)
        return _core.gpu_gemm_cost_tile(self.spec, *args, *shape, batch=b, acc=a, **q,
                                        cluster_m=cm, cluster_n=cn, **rows, l2_resident=hot)

    def gemm_time(
        self,
        M: int,
        N: int,
        K: int,
        dtype: str = "fp16",
        sparse: bool = False,
        *,
        out_bytes: int | None = None,
        batch: int = 1,
        acc: str | None = None,
        a_bits: int | None = None,
        b_bits: int | None = None,
        b_group: int | None = None,
        out_bits: int | None = None,
    ) -> float:
        """Seconds for one GEMM kernel (see ``gemm_cost``; ``batch`` GEMMs if batched)."""
        return self.gemm_cost(M, N, K, dtype, sparse, out_bytes=out_bytes, batch=batch,
                              acc=acc, a_bits=a_bits, b_bits=b_bits, b_group=b_group,
                              out_bits=out_bits).time_s

    def simulate_gemm(
        self,
        M: int,
        N: int,
        K: int,
        dtype: str = "fp16",
        sparse: bool = False,
        *,
        out_bytes: int | None = None,
        tile: Tile | None = None,
        batch: int = 1,
        acc: str | None = None,
        a_bits: int | None = None,
        b_bits: int | None = None,
        b_group: int | None = None,
        out_bits: int | None = None,
        a_row: int | None = None,
        b_row: int | None = None,
        l2_resident: bool = False,
    ) -> _core.GemmCost:
        """Step-level reference (CTA by CTA, k-block by k-block); equals ``gemm_cost``.

        ``batch``, ``acc``, ``a_bits``, ``b_bits``, ``b_group``, ``out_bits``, ``a_row``,
        ``b_row``, ``l2_resident`` as in ``gemm_cost`` (the CTAs of every entry are stepped).
        For tests and small studies: raises ValueError past 2^27 stepped MMA instructions.
        """
        args, a = self._gemm_args(M, N, K, dtype, sparse, out_bytes, acc)
        b = _batch(batch)
        q = _widths(a_bits, b_bits, b_group, out_bits)
        rows = _rows(a_row, b_row)
        hot = _flag("l2_resident", l2_resident)
        if tile is None:
            return _core.gpu_gemm_simulate(self.spec, *args, batch=b, acc=a, **q, **rows,
                                           l2_resident=hot)
        shape, (cm, cn) = _tile(tile)
        return _core.gpu_gemm_simulate_tile(self.spec, *args, *shape, batch=b, acc=a, **q,
                                            cluster_m=cm, cluster_n=cn, **rows, l2_resident=hot)

    def gemm_candidates(
        self, M: int, N: int, K: int, dtype: str = "fp16", sparse: bool = False, *,
        batch: int = 1, acc: str | None = None, a_bits: int | None = None,
        b_bits: int | None = None, b_group: int | None = None, out_bits: int | None = None,
        a_row: int | None = None, b_row: int | None = None,
    ) -> list[Tile]:
        """(tile_m, tile_n, tile_k, split_k, cluster_m, cluster_n) of every configuration the
        search evaluates (split-K only where the output tiles of all ``batch`` entries do not fill
        one wave; 2 x 1 and 1 x 2 clusters on Hopper and Blackwell where the rows are 16-byte
        aligned). The widths and rows as in ``gemm_cost``: a packed C (``out_bits``) or a row
        can change the rows' alignment, and so the kernels searched."""
        args, a = self._gemm_args(M, N, K, dtype, sparse, None, acc)
        q = _widths(a_bits, b_bits, b_group, out_bits)
        return [tuple(t) for t in _core.gpu_gemm_candidates(self.spec, *args,
                                                            batch=_batch(batch), acc=a, **q,
                                                            **_rows(a_row, b_row))]

    # --- helpers ----------------------------------------------------------------------------

    def _dtype(self, dtype: str) -> str:
        return normalize_dtype(dtype)

    def _acc(self, dtype: str, acc: object) -> str | None:
        """``acc`` as a canonical name ("fp32", "fp16", "int32"; None stays None: the dtype's
        default). Raises ValueError for an unknown name or a pair this GPU lacks, naming the GPU,
        the pair and the accumulators ``dtype`` has here."""
        if acc is None:
            return None
        if not isinstance(acc, str):
            raise ValueError(f"acc must be a string, one of {ACCS}, got {acc!r}")
        key = acc.strip().lower()
        key = _ACC_ALIASES.get(key, key)
        if key not in ACCS:
            raise ValueError(f"unknown acc {acc!r}; known: {', '.join(ACCS)}")
        accs = self.supported_accs(dtype)
        if accs and key not in accs:  # (an unsupported dtype: the C++ side names it)
            raise ValueError(
                f"{self.full_name} ({self.arch}) has no ({dtype}, {key}) tensor-core MMA; "
                f"{dtype} accumulates in {', '.join(accs)} here")
        return key

    def _gemm_args(
        self, M: int, N: int, K: int, dtype: str, sparse: bool, out_bytes: int | None,
        acc: object = None,
    ) -> tuple[tuple[int, int, int, str, bool, int], str | None]:
        dims = []
        for name, value in (("M", M), ("N", N), ("K", K)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
            dims.append(int(value))
        if out_bytes is not None and (
            isinstance(out_bytes, bool) or not isinstance(out_bytes, (int, np.integer))
            or not 1 <= out_bytes <= 8
        ):
            raise ValueError(f"out_bytes must be an integer in 1..8, got {out_bytes!r}")
        if not isinstance(sparse, (bool, np.bool_)):
            raise ValueError(f"sparse must be True or False, got {sparse!r}")
        name = self._dtype(dtype)
        a = self._acc(name, acc)
        self.macs_per_clk_per_sm(name, bool(sparse), a)  # ValueError: unsupported on this GPU
        m, n, k = dims
        return (m, n, k, name, bool(sparse), int(out_bytes or 0)), a


@functools.lru_cache(maxsize=1 << 14)
def _searched_cost(spec: _core.GpuSpec, args: tuple[int, int, int, str, bool, int], batch: int,
                   acc: str | None, widths: tuple[int, ...],
                   rows: tuple[int, int], l2_resident: bool = False) -> _core.GemmCost:
    """``gemm_cost``'s tile search, once per GPU and GEMM: a network's repeated layers and a
    sweep's repeated points search a shape once (``spec``, one per preset object, is kept
    alive by the key; the result is read-only; ``pysim.memo.clear_caches`` clears it)."""
    a_bits, b_bits, b_group, out_bits = widths
    return _core.gpu_gemm_cost(spec, *args, batch=batch, acc=acc, a_bits=a_bits, b_bits=b_bits,
                               b_group=b_group, out_bits=out_bits, a_row=rows[0],
                               b_row=rows[1], l2_resident=l2_resident)


@functools.lru_cache(maxsize=64)
def _kernel_model(name: str, unit: TensorCoreUnit, clock_mhz: float, l2_bytes: int,
                  l2_bytes_per_clk: float, hbm_gb_per_s: float,
                  capacity_gib: float | None) -> GpuPreset:
    return GpuPreset(
        name=name, full_name=unit.description or name, arch=unit.arch, sms=unit.sms,
        boost_clock_mhz=clock_mhz, tensor_cores_per_sm=unit.tensor_cores_per_sm,
        register_file_kb_per_sm=unit.register_file_kib_per_sm,
        shared_memory_kb_per_sm=unit.shared_memory_kib_per_sm, l2_kb=l2_bytes // 1024,
        hbm_gb=math.ceil(capacity_gib or 0), hbm_bandwidth_gb_per_s=hbm_gb_per_s,
        hbm_efficiency=1.0,  # the hardware's dram bandwidth is the sustained one
        l2_bandwidth_bytes_per_clk=l2_bytes_per_clk,
        smem_bandwidth_bytes_per_clk=unit.smem_bandwidth_bytes_per_clk,
        launch_overhead_us=unit.launch_overhead_us, kernel_latency_us=unit.kernel_latency_us,
        pipeline_latency_us=unit.pipeline_latency_us, stream_latency_us=unit.stream_latency_us,
        mma_clock_mhz=unit.mma_clock_mhz, mma_efficiency=unit.mma_efficiency,
        softmax_rows=unit.softmax_rows, norm_rows=unit.norm_rows,
        rms_norm_rows=unit.rms_norm_rows,
        fusion=unit.fusion, attention=unit.attention,
        fp32_acc_half_rate=unit.fp32_acc_half_rate)


_INT64_MAX = 2**63 - 1


class _Widths(TypedDict):
    """The storage-width keywords of the C++ GEMM model."""

    a_bits: int
    b_bits: int
    b_group: int
    out_bits: int


class _Rows(TypedDict):
    """The row keywords of the C++ GEMM model."""

    a_row: int
    b_row: int


def _widths(a_bits: object, b_bits: object, b_group: object,
            out_bits: object = None) -> _Widths:
    """The storage-width keywords of the C++ GEMM model (None -> 0: the dtype's width / no
    scales / whole-byte C); the C++ side checks the values against the dtype and K."""
    return _Widths(a_bits=_positive("a_bits", a_bits), b_bits=_positive("b_bits", b_bits),
                   b_group=_positive("b_group", b_group),
                   out_bits=_positive("out_bits", out_bits))


def _flag(name: str, value: object) -> bool:
    """A yes / no argument: True or False (not 0, 1 or a string, which would pass silently)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _rows(a_row: object, b_row: object) -> _Rows:
    """``a_row`` / ``b_row`` for the C++ GEMM model (None -> 0: A's rows are K; B's layout not
    known)."""
    return _Rows(a_row=_positive("a_row", a_row), b_row=_positive("b_row", b_row))


def _positive(name: str, value: object) -> int:
    """A width or row keyword of the C++ GEMM model: a positive int (at most int64's), or 0
    for None."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return min(int(value), _INT64_MAX)


def _batch(batch: object) -> int:
    """``batch`` as a Python int >= 1 (the C++ side checks it against the shape's limits)."""
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)):
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if batch > _INT64_MAX:
        raise ValueError(f"batch must be < 2^63, got {batch}")
    return int(batch)


def _tile(tile: object) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """A ``tile`` argument as (tile_m, tile_n, tile_k, split_k) and (cluster_m, cluster_n)."""
    if not isinstance(tile, (tuple, list)) or len(tile) not in (4, 6) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in tile
    ):
        raise ValueError("tile must be (tile_m, tile_n, tile_k, split_k[, cluster_m, cluster_n]) "
                         f"integers, got {tile!r}")
    v = [int(x) for x in tile] + ([1, 1] if len(tile) == 4 else [])
    return (v[0], v[1], v[2], v[3]), (v[4], v[5])


_A100 = GpuPreset(
    name="a100",
    full_name="NVIDIA A100 SXM4 80 GB",
    arch="ampere",
    sms=108,
    boost_clock_mhz=1410.0,
    tensor_cores_per_sm=4,
    register_file_kb_per_sm=256,
    shared_memory_kb_per_sm=164,
    l2_kb=40960,
    hbm_gb=80,
    hbm_bandwidth_gb_per_s=2039.0,
    l2_bandwidth_bytes_per_clk=5120.0,
    nvlink_gb_per_s=600.0,
    host_link="pcie4_x16",
    sources={
        "sms, boost_clock_mhz, tensor_cores_per_sm": _A100_WP + ", Table 1 (A100 SXM4)",
        "tensor-core rate": _A100_WP + ": 256 fp16 FMA/clk per tensor core, 4 per SM; "
        "Table 3: fp16 312, tf32 156, int8 624, int4 1248, binary 4992 TOPS, 2x sparse",
        "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _A100_WP + ", Table 3",
        "hbm_gb, hbm_bandwidth_gb_per_s": _A100_DS + " (HBM2e, 2039 GB/s SXM)",
        "nvlink_gb_per_s": _A100_DS + ": NVLink 600 GB/s (SXM)" + _NVLINK_DIRECTION,
        "host_link": _A100_DS + ": PCIe Gen4 64 GB/s (bidirectional)",
        "collectives": _NCCL_MODEL,
        "l2_bandwidth_bytes_per_clk": _A100_WP + ": L2 read bandwidth 5120 B/clk",
        "smem_bandwidth_bytes_per_clk": _SMEM_BW,
        "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
    },
)

_H100 = GpuPreset(
    name="h100",
    full_name="NVIDIA H100 SXM5 80 GB",
    arch="hopper",
    sms=132,
    boost_clock_mhz=1830.0,
    tensor_cores_per_sm=4,
    register_file_kb_per_sm=256,
    shared_memory_kb_per_sm=228,
    l2_kb=51200,
    hbm_gb=80,
    hbm_bandwidth_gb_per_s=3350.0,
    l2_bandwidth_bytes_per_clk=5120.0,
    nvlink_gb_per_s=900.0,
    host_link="pcie5_x16",
    mma_clock_mhz=MMA_CLOCK_MHZ,
    mma_efficiency=MMA_EFFICIENCY,
    sources={
        "sms, tensor_cores_per_sm": _H100_WP + ", Table 3 (H100 SXM5)",
        "boost_clock_mhz": "1830 MHz: the clock of the datasheet's tensor-core figures "
        "(989.4 TFLOPS fp16 = 132 x 4096 x 1.83 GHz); the FP32/FP64 figures use 1980 MHz",
        "tensor-core rate": _H100_WP + ": 512 fp16 FMA/clk per tensor core, 4 per SM; "
        + _H100_DS + ": fp16 989, tf32 495, fp8 1979, int8 1979 TOPS, 2x sparse",
        "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _H100_WP + ", Table 3",
        "hbm_gb, hbm_bandwidth_gb_per_s": _H100_DS + " (HBM3, 3.35 TB/s)",
        "nvlink_gb_per_s": _H100_DS + ": NVLink 900 GB/s" + _NVLINK_DIRECTION,
        "host_link": _H100_DS + ": PCIe Gen5 128 GB/s (bidirectional)",
        "collectives": _NCCL_MODEL,
        "l2_bandwidth_bytes_per_clk": "not published; A100's 5120 B/clk assumed "
        "(an ESTIMATE)",
        "smem_bandwidth_bytes_per_clk": _SMEM_BW,
        "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        "mma_clock_mhz": "the H200's (the same GH100 at the same 700 W board limit; an "
        "ESTIMATE for the H100, measured on the H200): " + _MMA_CLOCK,
        "mma_efficiency": "the H200's (the same GH100 and cuBLAS; an ESTIMATE for the H100): "
        + _MMA_EFFICIENCY,
    },
)

PRESETS: dict[str, GpuPreset] = {
    "v100": GpuPreset(
        name="v100",
        full_name="NVIDIA Tesla V100 SXM2 (16/32 GB)",
        arch="volta",
        sms=80,
        boost_clock_mhz=1530.0,
        tensor_cores_per_sm=8,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=96,
        l2_kb=6144,
        hbm_gb=32,
        hbm_bandwidth_gb_per_s=900.0,
        host_link="pcie3_x16",
        l2_bandwidth_bytes_per_clk=2048.0,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm": _V100_WP + ", Table 1 (Tesla V100 SXM2)",
            "tensor-core rate": _V100_WP + ": 64 fp16 FMA/clk per tensor core, 8 per SM; "
            "125 TFLOPS",
            "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _V100_WP + ", Table 1",
            "hbm_gb, hbm_bandwidth_gb_per_s": _V100_WP + " (HBM2, 900 GB/s)",
            "host_link": _V100_WP + ": PCIe Gen3 x16 to the host (32 GB/s bidirectional)",
            "l2_bandwidth_bytes_per_clk": _A100_WP + ", V100 vs A100 table: 2048 B/clk",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    "t4": GpuPreset(
        name="t4",
        full_name="NVIDIA T4 (16 GB, PCIe)",
        arch="turing",
        sms=40,
        boost_clock_mhz=1590.0,
        tensor_cores_per_sm=8,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=64,
        l2_kb=4096,
        hbm_gb=16,
        hbm_bandwidth_gb_per_s=320.0,
        host_link="pcie3_x16",
        l2_bandwidth_bytes_per_clk=1024.0,
        mma_clock_mhz=585.0,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm, l2_kb": _TURING_WP + ", Tesla T4 "
            "(TU104: 40 SMs, 2560 CUDA cores, 320 tensor cores, 1590 MHz boost, 4096 KB L2)",
            "tensor-core rate": _T4_DS + ": fp16 mixed precision (fp16 / fp32 accumulate) 65 "
            "TFLOPS, int8 130 TOPS, int4 260 TOPS = 40 x 512 / 1024 / 2048 MACs x 2 x 1.59 "
            "GHz; no bf16, tf32 or sparsity",
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _CUDA_CC + ", 7.5: 256 KB, "
            "64 KB",
            "hbm_gb, hbm_bandwidth_gb_per_s": _T4_DS + " (16 GB GDDR6, 320 GB/s)",
            "host_link": _T4_DS + ": PCIe Gen3 x16 (32 GB/s bidirectional)",
            "l2_bandwidth_bytes_per_clk": "not published; half of V100's 2048 B/clk assumed "
            "(an ESTIMATE: TU104 has half GV100's memory partitions)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
            "hbm_efficiency": _HBM_EFFICIENCY,
            "mma_clock_mhz": _T4_DS + ": 585 MHz base clock, which the 70 W board limit holds "
            "sustained tensor work near: FlexGen's fit of a GCP T4's fp16 prefill GEMMs, 21.24 "
            "TFLOPS (FMInference/FlexGen, flexgen/cost_model.py, mm_flops_p), is 0.90 of this "
            "model's 23.6 TFLOPS at 585 MHz (4096 x 7168 x 7168; 61 at the boost clock)",
        },
    ),
    "a100": _A100,
    "h100": _H100,
    # the 80 GB part's chip with the 40 GB part's memory
    "a100_40gb": dataclasses.replace(
        _A100,
        name="a100_40gb",
        full_name="NVIDIA A100 SXM4 40 GB",
        hbm_gb=40,
        hbm_bandwidth_gb_per_s=1555.0,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm": _A100_WP + ", Table 1 (A100 SXM4)",
            "tensor-core rate": _A100_WP + ": 256 fp16 FMA/clk per tensor core, 4 per SM; "
            + _A100_40_DS + ": fp16 312, tf32 156, int8 624, int4 1248 TOPS, 2x sparse",
            "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _A100_WP + ", Table 3",
            "hbm_gb, hbm_bandwidth_gb_per_s": _A100_40_DS + " (40 GB HBM2, 1555 GB/s); "
            + _A100_WP + ", Table 1 (1555 GB/s)",
            "nvlink_gb_per_s": _A100_40_DS + ": NVLink 600 GB/s" + _NVLINK_DIRECTION,
            "host_link": _A100_40_DS + ": PCIe Gen4 64 GB/s (bidirectional)",
            "collectives": _NCCL_MODEL,
            "l2_bandwidth_bytes_per_clk": _A100_WP + ": L2 read bandwidth 5120 B/clk",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    # H100 SXM's GH100 with 141 GB of HBM3e
    "h200": dataclasses.replace(
        _H100,
        name="h200",
        full_name="NVIDIA H200 SXM 141 GB",
        hbm_gb=141,
        l2_kb=61440,
        hbm_bandwidth_gb_per_s=4800.0,
        kernel_latency_us=KERNEL_LATENCY_US,
        pipeline_latency_us=PIPELINE_LATENCY_US,
        stream_latency_us=STREAM_LATENCY_US,
        mma_clock_mhz=MMA_CLOCK_MHZ,
        mma_efficiency=MMA_EFFICIENCY,
        softmax_rows=SOFTMAX_ROWS,
        norm_rows=NORM_ROWS,
        rms_norm_rows=RMS_NORM_ROWS,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm": _H200_DS + ": its tensor-core "
            "figures equal the H100 SXM's (the same GH100, 132 SMs at the 1830 MHz tensor "
            "clock); " + _H100_WP + ", Table 3",
            "tensor-core rate": _H200_DS + ": fp16 1979, tf32 989, fp8 3958, int8 3958 TOPS "
            "with sparsity (half without); 2048 fp16 MACs/clk/SM as H100",
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _H100_WP + ", Table 3 "
            "(GH100, as H100 SXM5; the H200 datasheet lists none of them)",
            "l2_kb": "60 MiB: measured, torch.cuda.get_device_properties().L2_cache_size = "
            "62914560 on an H200 SXM (benchmarks/data/h200_kernels/env.csv); the H200 datasheet "
            "lists none, H100 SXM5 enables 50 MB of GH100's 60",
            "hbm_gb, hbm_bandwidth_gb_per_s": _H200_DS + " (141 GB HBM3e, 4.8 TB/s)",
            "nvlink_gb_per_s": _H200_DS + ": NVLink 900 GB/s" + _NVLINK_DIRECTION,
            "host_link": _H200_DS + ": PCIe Gen5 128 GB/s (bidirectional)",
            "collectives": _NCCL_MODEL,
            "l2_bandwidth_bytes_per_clk": "not published; A100's 5120 B/clk assumed "
            "(an ESTIMATE, as h100)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
            "kernel_latency_us, pipeline_latency_us": _LATENCY,
            "stream_latency_us": "measured on an H200 (benchmarks/data/h200_kernels/eltwise.csv): "
            "add, ReLU and GELU kernels of 65,536 and 1,048,576 fp16 elements take a median 2.19 "
            "us beyond their bytes, 1.0 us more than the kernel latency",
            "mma_clock_mhz": _MMA_CLOCK,
            "mma_efficiency": _MMA_EFFICIENCY,
            "softmax_rows, norm_rows, rms_norm_rows": _ROWS,
            "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    # H100's GH100 with Grace on NVLink-C2C: host memory at 450 GB/s a direction
    "gh200": dataclasses.replace(
        _H100,
        name="gh200",
        full_name="NVIDIA GH200 Grace Hopper Superchip, 96 GB HBM3 (GPU)",
        hbm_gb=96,
        hbm_bandwidth_gb_per_s=4000.0,
        host_link="nvlink_c2c",
        host_memory_gb=480,
        host_memory="lpddr4_3200",
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm": _GH200_DS + ": fp16 989.5 TFLOPS "
            "dense, the H100 SXM5's (132 SMs of GH100 at the 1830 MHz tensor clock); "
            + _H100_WP + ", Table 3",
            "tensor-core rate": _GH200_DS + ": fp16 / bf16 990, tf32 495, fp8 / int8 1979 "
            "TOPS dense, 2x sparse: as H100 SXM5",
            "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _H100_WP + ", Table 3 "
            "(GH100 as in H100 SXM5)",
            "hbm_gb, hbm_bandwidth_gb_per_s": _GH200_DS + " (96 GB HBM3, 4 TB/s)",
            "host_link, host_memory_gb": _GH_WP + ": NVLink-C2C 900 GB/s (450 each way) to "
            "Grace's up to 480 GB of LPDDR5X; " + _GH200_DS,
            "host_memory": "LPDDR5X priced as the lpddr4_3200 preset (pysim.config has no "
            "LPDDR5X; an ESTIMATE of its energy per bit)",
            "nvlink_gb_per_s": _GH200_DS + ": NVLink 900 GB/s" + _NVLINK_DIRECTION,
            "collectives": _NCCL_MODEL,
            "l2_bandwidth_bytes_per_clk": "not published; A100's 5120 B/clk assumed "
            "(an ESTIMATE, as h100)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
            "hbm_efficiency": _HBM_EFFICIENCY,
            "mma_clock_mhz": "the H200's (the same GH100; an ESTIMATE for the GH200, whose "
            "module power is configurable 450-1000 W): " + _MMA_CLOCK,
            "mma_efficiency": "the H200's (the same GH100 and cuBLAS; an ESTIMATE): "
            + _MMA_EFFICIENCY,
        },
    ),
    "b200": GpuPreset(
        name="b200",
        full_name="NVIDIA B200 (HGX B200, 1000 W)",
        arch="blackwell",
        sms=148,
        boost_clock_mhz=1856.0,
        tensor_cores_per_sm=4,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=228,
        l2_kb=129024,
        hbm_gb=180,
        hbm_bandwidth_gb_per_s=7700.0,
        host_link="pcie5_x16",
        l2_bandwidth_bytes_per_clk=10240.0,
        nvlink_gb_per_s=1800.0,
        sources={
            "sms": "148 SMs (two dies of 74 enabled SMs): not in NVIDIA's datasheets; "
            "Chips and Cheese, 'Nvidia's B200: Keeping the CUDA Juggernaut Rolling' (2025), "
            "consistent with " + _B200_DS + " FP32 75 TFLOPS = 148 x 128 x 2 x 1.98 GHz",
            "boost_clock_mhz": "1856 MHz: the clock at which 148 SMs x 4096 fp16 MACs/clk give "
            "the datasheet's 2.25 PFLOPS dense fp16 (NVIDIA publishes neither the tensor clock "
            "nor the per-SM rate; an ESTIMATE; the FP32 figure implies 1.98 GHz, as H100's "
            "tensor figures use 1830 of its 1980 MHz)",
            "tensor_cores_per_sm": "4 per SM (5th generation), as Hopper: an ASSUMPTION, "
            "the rate is per SM",
            "tensor-core rate": _B200_DS + ": fp4 9 (18 sparse), fp8 / fp6 4.5 (9), int8 4.5 "
            "(9) POPS, fp16 / bf16 2.25 (4.5), tf32 2.2 sparse (1.1 dense) PFLOPS: 4096 fp16 "
            "MACs/clk/SM, twice Hopper's (GB200's 5 / 2.5 PFLOPS fp16 / tf32 sparse fix tf32 at "
            "half fp16: the B200 tf32 figure is 2.25 truncated to 2.2)",
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _CUDA_CC + ", 10.0: 256 KB, "
            "228 KB",
            "l2_kb": "126 MB: not in NVIDIA's datasheets; measured, Chips and Cheese (2025), "
            "as above",
            "hbm_gb, hbm_bandwidth_gb_per_s": _B200_DS + " (180 GB HBM3e, 7.7 TB/s per GPU; "
            "the first B200 announcement said 192 GB, 8 TB/s)",
            "host_link": "PCIe Gen5 x16 to the host CPUs (DGX B200's Xeon Platinum 8570 are "
            "PCIe Gen5 parts); an ESTIMATE: the B200 documents list NVLink only",
            "nvlink_gb_per_s": _B200_DS + ": fifth-generation NVLink 1.8 TB/s per GPU"
            + _NVLINK_DIRECTION,
            "collectives": _NCCL_MODEL + "; NCCL 2.19's NVLink figures assumed for NVLink 5",
            "l2_bandwidth_bytes_per_clk": "not published; twice A100's 5120 B/clk (two dies, "
            "each with its L2) assumed (an ESTIMATE)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW + "; assumed unchanged on 10.0",
            "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    "l40s": GpuPreset(
        name="l40s",
        full_name="NVIDIA L40S 48 GB",
        arch="ada",
        sms=142,
        boost_clock_mhz=2520.0,
        tensor_cores_per_sm=4,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=100,
        l2_kb=98304,
        hbm_gb=48,
        hbm_bandwidth_gb_per_s=864.0,
        host_link="pcie4_x16",
        l2_bandwidth_bytes_per_clk=2048.0,
        sources={
            "sms, tensor_cores_per_sm": _L40S_DS + ": 18,176 CUDA cores (142 SMs x 128), 568 "
            "tensor cores (4 per SM)",
            "boost_clock_mhz": "2520 MHz: " + _L40S_DS + " FP32 91.6 TFLOPS = 18,176 x 2 x "
            "2.52 GHz, and its sparse tensor figures (733 fp16, 1466 fp8) = 142 SMs x MACs/clk "
            "x 2 x 2 x 2.52 GHz",
            "tensor-core rate": _L40S_DS + ": tf32 183 (366 sparse), fp16 / bf16 362.05 (733), "
            "fp8 733 (1466): data-centre part, fp32 accumulate at the full rate (the dense fp16 "
            "figure, 362.05, is not half its sparse 733: the model gives 366.4); int8 / int4 "
            "not listed (the architecture's rates from " + _ADA_WP + ")",
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _CUDA_CC + ", 8.9: 256 KB, "
            "100 KB",
            "l2_kb": "not in the L40S datasheet; 96 MB, AD102's full L2 (" + _ADA_WP + "), as "
            "measured on the L40 (same board, 142 SMs: Basaran & Alpay, arXiv 2606.22588); "
            "TechPowerUp's database says 48 MB (an ESTIMATE)",
            "hbm_gb, hbm_bandwidth_gb_per_s": _L40S_DS + " (48 GB GDDR6, 864 GB/s)",
            "host_link": _L40S_DS + ": PCIe Gen4 x16 (64 GB/s bidirectional)",
            "l2_bandwidth_bytes_per_clk": "not published; V100's 2048 B/clk assumed (an "
            "ESTIMATE)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    "rtx4090": GpuPreset(
        name="rtx4090",
        full_name="NVIDIA GeForce RTX 4090",
        arch="ada",
        sms=128,
        boost_clock_mhz=2520.0,
        tensor_cores_per_sm=4,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=100,
        l2_kb=73728,
        hbm_gb=24,
        hbm_bandwidth_gb_per_s=1008.0,
        host_link="pcie4_x16",
        l2_bandwidth_bytes_per_clk=2048.0,
        fp32_acc_half_rate=True,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm, l2_kb": _ADA_WP + " (128 SMs, 2520 "
            "MHz, 512 tensor cores, 72 MB L2)",
            "tensor-core rate": _ADA_WP + ": fp16 330.3 (660.6 sparse) with fp16 accumulate, "
            "165.2 (330.4) with fp32; bf16 165.2; tf32 82.6; fp8 660.6 with fp16 accumulate; "
            "int8 660.6 TOPS, int4 1321.2 TOPS",
            "fp32_acc_half_rate": _GEFORCE_ACC + "; fp8 with fp32 accumulate taken at half "
            "as the other float inputs (330.3 TFLOPS; see docs/tensor_cores.md)",
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _CUDA_CC + ", 8.9: 256 KB, "
            "100 KB",
            "hbm_gb, hbm_bandwidth_gb_per_s": _ADA_WP + " (24 GB GDDR6X, 1008 GB/s)",
            "host_link": _ADA_WP + ": PCI Express 4.0 x16",
            "l2_bandwidth_bytes_per_clk": "not published; V100's 2048 B/clk assumed (an "
            "ESTIMATE)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    "a6000": GpuPreset(
        name="a6000",
        full_name="NVIDIA RTX A6000",
        arch="ga10x",
        sms=84,
        boost_clock_mhz=1800.0,
        tensor_cores_per_sm=4,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=100,
        l2_kb=6144,
        hbm_gb=48,
        hbm_bandwidth_gb_per_s=768.0,
        host_link="pcie4_x16",
        l2_bandwidth_bytes_per_clk=2048.0,
        nvlink_gb_per_s=112.5,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm, l2_kb": _A6000_DS + ": 10752 CUDA "
            "cores and 336 tensor cores (84 GA102 SMs), 38.7 TFLOPS FP32 = 84 x 128 x 2 x 1.8 "
            "GHz; " + _GA102_WP + " (GA102: 6144 KB L2)",
            "tensor-core rate": _A6000_DS + ": 309.7 TFLOPS tensor with sparsity, 154.8 dense "
            "= 84 x 512 fp16 MACs x 2 x 1.8 GHz, GA102's rate; a professional part, so fp32 "
            "accumulation at the full rate, as the A40 (docs/tensor_cores.md)",
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _CUDA_CC + ", 8.6: 256 KB, "
            "100 KB",
            "hbm_gb, hbm_bandwidth_gb_per_s": _A6000_DS + " (48 GB GDDR6 with ECC, 384-bit, "
            "768 GB/s)",
            "host_link": _A6000_DS + ": PCI Express Gen 4 x16",
            "nvlink_gb_per_s": _A6000_DS + ": NVLink 112.5 GB/s (bidirectional, a 2-way "
            "bridge)" + _NVLINK_DIRECTION,
            "collectives": _NCCL_MODEL,
            "l2_bandwidth_bytes_per_clk": "not published; V100's 2048 B/clk assumed (an "
            "ESTIMATE, as rtx3090)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
            "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    "rtx3090": GpuPreset(
        name="rtx3090",
        full_name="NVIDIA GeForce RTX 3090",
        arch="ga10x",
        sms=82,
        boost_clock_mhz=1695.0,
        tensor_cores_per_sm=4,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=100,
        l2_kb=6144,
        hbm_gb=24,
        hbm_bandwidth_gb_per_s=936.0,
        host_link="pcie4_x16",
        l2_bandwidth_bytes_per_clk=2048.0,
        fp32_acc_half_rate=True,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm, l2_kb": _GA102_WP + " (82 SMs, 1695 "
            "MHz, 328 tensor cores, 6144 KB L2)",
            "tensor-core rate": _GA102_WP + ": fp16 142 (284 sparse) with fp16 accumulate, 71 "
            "(142) with fp32; bf16 71; tf32 35.6 (71); int8 284 (568) TOPS, int4 568 (1136)",
            "fp32_acc_half_rate": _GEFORCE_ACC,
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _CUDA_CC + ", 8.6: 256 KB, "
            "100 KB",
            "hbm_gb, hbm_bandwidth_gb_per_s": _GA102_WP + " (24 GB GDDR6X, 936 GB/s)",
            "host_link": _GA102_WP + ": PCI Express 4.0 x16",
            "l2_bandwidth_bytes_per_clk": "not published; V100's 2048 B/clk assumed (an "
            "ESTIMATE)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
    "jetson_agx_orin": GpuPreset(
        name="jetson_agx_orin",
        full_name="NVIDIA Jetson AGX Orin 64 GB (GPU)",
        arch="ga10b",
        sms=16,
        boost_clock_mhz=1300.0,
        tensor_cores_per_sm=4,
        register_file_kb_per_sm=256,
        shared_memory_kb_per_sm=164,
        l2_kb=4096,
        hbm_gb=64,
        hbm_bandwidth_gb_per_s=204.8,
        l2_bandwidth_bytes_per_clk=512.0,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm, l2_kb": _ORIN_TB + ": 2048 CUDA cores "
            "in 16 SMs, 64 tensor cores, GPU maximum frequency 1.3 GHz, 4 MB L2",
            "tensor-core rate": _ORIN_TB + ": 170 sparse int8 TOPS (GPU) = 16 x 2048 x 2 x 2 x "
            "1.3 GHz, GA100's per-SM rate; fp16 / bf16 / tf32 DERIVED with GA100's ratios (the "
            "Orin documents give only int8); int4 and binary not listed, so refused",
            "register_file_kb_per_sm, shared_memory_kb_per_sm": _CUDA_CC + ", 8.7: 256 KB, "
            "164 KB",
            "hbm_gb, hbm_bandwidth_gb_per_s": _ORIN_TB + ": 64 GB 256-bit LPDDR5, 204.8 GB/s "
            "(shared with the CPU; modelled as the GPU's own)",
            "l2_bandwidth_bytes_per_clk": "not published; 32 B/clk per SM assumed (an "
            "ESTIMATE)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        "hbm_efficiency": _HBM_EFFICIENCY,
        },
    ),
}

_PRESET_ALIASES = {"a100_80gb": "a100", "h100_sxm": "h100", "h200_sxm": "h200",
                   "rtx_4090": "rtx4090", "rtx_3090": "rtx3090", "orin": "jetson_agx_orin",
                   "agx_orin": "jetson_agx_orin"}


def preset(name: str) -> GpuPreset:
    """The preset called ``name`` (any case; "-" or " " for "_"): v100, t4, a100, h100, a100_40gb,
    h200, gh200, b200, l40s, rtx4090, a6000, rtx3090, jetson_agx_orin (``PRESETS``).

    Raises ValueError naming the known presets (and the closest match) for an unknown name.
    """
    key = None
    if isinstance(name, str):
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        key = _PRESET_ALIASES.get(key, key)
    if key in PRESETS:
        return PRESETS[key]
    close = difflib.get_close_matches(str(key or name), list(PRESETS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown GPU {name!r}; known: {', '.join(PRESETS)}{hint}")
