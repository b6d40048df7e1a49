"""GPU presets (V100, A100, H100) and their tensor-core peak and GEMM-time models.

Every number carries its source (``GpuPreset.sources``; docs/tensor_cores.md has the table).
Peak rates are exact products: SMs x tensor-core MACs per SM per clock x 2 x clock. The GEMM
time is the C++ closed form (``pysim._core.gpu_gemm_cost``): CTA tiles chosen by a small search
like a library heuristic, waves over the SMs, MMA, shared-memory, L2 and HBM time per wave,
epilogue, split-K reduction and launch overhead. ``batch=B`` costs one strided-batched kernel of
B independent GEMMs of the shape: the CTAs of all B share one grid and its waves.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from pysim import _core
from pysim.errors import ConfigError
from pysim.gpu.dtypes import normalize_dtype

ARCHS = ("volta", "ampere", "hopper")

_V100_WP = "NVIDIA Tesla V100 GPU Architecture whitepaper (WP-08608-001_v1.1, 2017)"
_A100_WP = "NVIDIA A100 Tensor Core GPU Architecture whitepaper (v1.0, 2020)"
_A100_DS = "NVIDIA A100 80GB PCIe/SXM datasheet (2021)"
_H100_WP = "NVIDIA H100 Tensor Core GPU Architecture whitepaper (v1.0x, 2022)"
_H100_DS = "NVIDIA H100 Tensor Core GPU datasheet (2022/2023), SXM5 column"
_SMEM_BW = (
    "32 banks x 4 B per clock per SM (CUDA C++ Programming Guide, shared memory of compute "
    "capability 7.x-9.x)"
)
_LAUNCH = (
    "~3-5 us per kernel launch on current drivers (NVIDIA Technical Blog, A. Gray, "
    "'Getting Started with CUDA Graphs', 2019); 4 us taken"
)


FUSION = ("epilogue", "none")


@dataclass(frozen=True)
class GpuPreset:
    """One GPU for the tensor-core model. Sizes in KB/GB as the datasheets quote them.

    ``boost_clock_mhz`` is the clock the datasheet's tensor-core figures assume; bandwidths in
    GB/s (HBM) and bytes per clock (L2 for the chip, shared memory per SM);
    ``launch_overhead_us`` is paid once per kernel. Build one with ``preset(name)`` and change
    fields with ``replace(**changes)``.

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
    # "epilogue": elementwise ops after a GEMM / convolution run in its epilogue (bias,
    # activation, residual add, (de)quantization), as cuBLASLt, TensorRT and torch.compile
    # fuse them; "none": each is its own kernel.
    fusion: str = "epilogue"
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
                     "smem_bandwidth_bytes_per_clk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a number > 0, got {value!r}")
        if self.fusion not in FUSION:
            raise ConfigError(f"fusion must be one of {FUSION}, got {self.fusion!r}")
        value = self.launch_overhead_us
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigError(
                f"launch_overhead_us must be >= 0, got {self.launch_overhead_us!r}"
            )
        object.__setattr__(self, "sources", types.MappingProxyType(dict(self.sources)))
        _ = self.spec  # the C++ side validates the rest (SM count range, sizes > 0)

    def replace(self, **changes: object) -> GpuPreset:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

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
                hbm_bandwidth_gb_per_s=float(self.hbm_bandwidth_gb_per_s),
                l2_bandwidth_bytes_per_clk=float(self.l2_bandwidth_bytes_per_clk),
                smem_bandwidth_bytes_per_clk=float(self.smem_bandwidth_bytes_per_clk),
                launch_overhead_us=float(self.launch_overhead_us),
            )
        except ValueError as err:
            raise ConfigError(f"GPU preset {self.name!r}: {err}") from None

    # --- tensor-core rates ------------------------------------------------------------------

    def supported_dtypes(self, sparse: bool = False) -> tuple[str, ...]:
        """Dtypes this GPU's tensor cores run (with 2:4 sparsity if ``sparse``)."""
        return tuple(d for d in _core.tc_dtypes() if _core.tc_supports(self.arch, d, sparse))

    def mma_shape(self, dtype: str, sparse: bool = False) -> tuple[int, int, int]:
        """(m, n, k) of the warp-level MMA instruction for ``dtype``. ValueError if unsupported."""
        return tuple(_core.tc_mma_shape(self.arch, self._dtype(dtype), bool(sparse)))

    def macs_per_clk_per_sm(self, dtype: str, sparse: bool = False) -> int:
        """Tensor-core MACs per SM per clock (doubled by 2:4 sparsity where supported)."""
        return _core.tc_macs_per_clk_per_sm(self.arch, self._dtype(dtype), bool(sparse))

    def peak_tflops(self, dtype: str, sparse: bool = False) -> float:
        """Peak tensor-core TFLOPS (TOPS for integer dtypes): SMs x MACs/clk x 2 x clock.

        Raises ValueError if this architecture's tensor cores lack ``dtype`` (fp8 on A100) or
        its sparse mode.
        """
        macs = self.macs_per_clk_per_sm(dtype, sparse)
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
        tile: tuple[int, int, int, int] | None = None,
        batch: int = 1,
    ) -> _core.GemmCost:
        """Closed-form time and traffic of C[M, N] = A[M, K] x B[K, N] as one kernel.

        ``sparse``: A is 2:4 structured sparse along K (twice the MMA rate, half of A's values
        plus 2-bit metadata each). ``out_bytes``: bytes per C element (default: 2 for
        fp16/bf16/fp8, 4 otherwise). ``tile``: (tile_m, tile_n, tile_k, split_k) to cost one
        configuration instead of searching. ``batch``: the kernel computes ``batch``
        independent GEMMs of this shape (strided batched, one launch; their CTAs share the
        waves); MACs, bytes and times cover all of them. Raises ValueError on bad dims, batch
        or dtype.
        """
        args = self._gemm_args(M, N, K, dtype, sparse, out_bytes)
        b = _batch(batch)
        if tile is None:
            return _core.gpu_gemm_cost(self.spec, *args, batch=b)
        return _core.gpu_gemm_cost_tile(self.spec, *args, *_tile(tile), batch=b)

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
    ) -> float:
        """Seconds for one GEMM kernel (see ``gemm_cost``; ``batch`` GEMMs if batched)."""
        return self.gemm_cost(M, N, K, dtype, sparse, out_bytes=out_bytes, batch=batch).time_s

    def simulate_gemm(
        self,
        M: int,
        N: int,
        K: int,
        dtype: str = "fp16",
        sparse: bool = False,
        *,
        out_bytes: int | None = None,
        tile: tuple[int, int, int, int] | None = None,
        batch: int = 1,
    ) -> _core.GemmCost:
        """Step-level reference (CTA by CTA, k-block by k-block); equals ``gemm_cost``.

        ``batch`` as in ``gemm_cost`` (the CTAs of every entry are stepped). For tests and small
        studies: raises ValueError past 2^27 stepped MMA instructions.
        """
        args = self._gemm_args(M, N, K, dtype, sparse, out_bytes)
        b = _batch(batch)
        if tile is None:
            return _core.gpu_gemm_simulate(self.spec, *args, batch=b)
        return _core.gpu_gemm_simulate_tile(self.spec, *args, *_tile(tile), batch=b)

    def gemm_candidates(
        self, M: int, N: int, K: int, dtype: str = "fp16", sparse: bool = False, *,
        batch: int = 1,
    ) -> list[tuple[int, int, int, int]]:
        """(tile_m, tile_n, tile_k, split_k) of every configuration the search evaluates
        (split-K only where the output tiles of all ``batch`` entries do not fill one wave)."""
        args = self._gemm_args(M, N, K, dtype, sparse, None)
        return [tuple(t) for t in _core.gpu_gemm_candidates(self.spec, *args,
                                                            batch=_batch(batch))]

    # --- helpers ----------------------------------------------------------------------------

    def _dtype(self, dtype: str) -> str:
        return normalize_dtype(dtype)

    def _gemm_args(
        self, M: int, N: int, K: int, dtype: str, sparse: bool, out_bytes: int | None
    ) -> tuple[int, int, int, str, bool, int]:
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
        self.macs_per_clk_per_sm(name, bool(sparse))  # ValueError: unsupported on this GPU
        return (*dims, name, bool(sparse), int(out_bytes or 0))


_INT64_MAX = 2**63 - 1


def _batch(batch: object) -> int:
    """``batch`` as a Python int >= 1 (the C++ side checks it against the shape's limits)."""
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)):
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if batch > _INT64_MAX:
        raise ValueError(f"batch must be < 2^63, got {batch}")
    return int(batch)


def _tile(tile: object) -> tuple[int, int, int, int]:
    if not isinstance(tile, (tuple, list)) or len(tile) != 4 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in tile
    ):
        raise ValueError(f"tile must be (tile_m, tile_n, tile_k, split_k) integers, got {tile!r}")
    return tuple(int(v) for v in tile)  # type: ignore[return-value]


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
        l2_bandwidth_bytes_per_clk=2048.0,
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm": _V100_WP + ", Table 1 (Tesla V100 SXM2)",
            "tensor-core rate": _V100_WP + ": 64 fp16 FMA/clk per tensor core, 8 per SM; "
            "125 TFLOPS",
            "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _V100_WP + ", Table 1",
            "hbm_gb, hbm_bandwidth_gb_per_s": _V100_WP + " (HBM2, 900 GB/s)",
            "l2_bandwidth_bytes_per_clk": _A100_WP + ", V100 vs A100 table: 2048 B/clk",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        },
    ),
    "a100": GpuPreset(
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
        sources={
            "sms, boost_clock_mhz, tensor_cores_per_sm": _A100_WP + ", Table 1 (A100 SXM4)",
            "tensor-core rate": _A100_WP + ": 256 fp16 FMA/clk per tensor core, 4 per SM; "
            "Table 3: fp16 312, tf32 156, int8 624, int4 1248, binary 4992 TOPS, 2x sparse",
            "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _A100_WP + ", Table 3",
            "hbm_gb, hbm_bandwidth_gb_per_s": _A100_DS + " (HBM2e, 2039 GB/s SXM)",
            "l2_bandwidth_bytes_per_clk": _A100_WP + ": L2 read bandwidth 5120 B/clk",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        },
    ),
    "h100": GpuPreset(
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
        sources={
            "sms, tensor_cores_per_sm": _H100_WP + ", Table 3 (H100 SXM5)",
            "boost_clock_mhz": "1830 MHz: the clock of the datasheet's tensor-core figures "
            "(989.4 TFLOPS fp16 = 132 x 4096 x 1.83 GHz); the FP32/FP64 figures use 1980 MHz",
            "tensor-core rate": _H100_WP + ": 512 fp16 FMA/clk per tensor core, 4 per SM; "
            + _H100_DS + ": fp16 989, tf32 495, fp8 1979, int8 1979 TOPS, 2x sparse",
            "register_file_kb_per_sm, shared_memory_kb_per_sm, l2_kb": _H100_WP + ", Table 3",
            "hbm_gb, hbm_bandwidth_gb_per_s": _H100_DS + " (HBM3, 3.35 TB/s)",
            "l2_bandwidth_bytes_per_clk": "not published; A100's 5120 B/clk assumed "
            "(an ESTIMATE)",
            "smem_bandwidth_bytes_per_clk": _SMEM_BW,
            "launch_overhead_us": _LAUNCH,
        },
    ),
}


def preset(name: str) -> GpuPreset:
    """The preset for "v100", "a100" or "h100" (any case).

    Raises ValueError naming the known presets (and the closest match) for an unknown name.
    """
    key = str(name).strip().lower() if isinstance(name, str) else None
    if key in PRESETS:
        return PRESETS[key]
    close = difflib.get_close_matches(str(key or name), list(PRESETS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown GPU {name!r}; known: {', '.join(PRESETS)}{hint}")
