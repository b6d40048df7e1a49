"""One seeded hostile call into a public ``pysim._core`` entry point per (seed, index).

``make_call(seed, index)`` draws the entry point and its arguments; ``run_call`` makes the
call and classifies it: ``ok`` (returned, and the answer passed its check against NumPy or the
closed form where there is one), ``clean`` (ValueError, or the binding's TypeError for an
argument of the wrong Python type given on purpose) or ``failure`` (anything else, or a wrong
answer). Crashes and hangs are caught by the runner, which makes these calls in a child.

A call into a loop that steps its work (the cycle-stepped references, SCALE-Sim's fold loop)
carries ``work``: the native steps it takes if its budget accepts it (0 if the budget refuses
it before starting), from the closed form and the budget's own formula (csrc/README.md). Those
calls are 0.5 % of the draws and 98 % of the time (a call within its budget may take ~10 s by
design); ``run_call(call, max_work)`` skips the ones over ``max_work`` steps, so a short run
(the CI test) makes the rest in seconds. The outcome is then ``skipped``, counted apart."""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pysim import _core
from tests.fuzz.values import describe, harray, hbool, hfloat, hint, hstr

Check = Callable[[Any], str | None]  # None: the answer is right; else what is wrong


@dataclass
class Call:
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    check: Check | None = None
    wrong_type: bool = False  # an argument of the wrong Python type was given on purpose
    work: Callable[[], float] | None = None  # native steps if accepted (module docstring)

    def describe(self) -> str:
        parts = [describe(a) for a in self.args]
        parts += [f"{k}={describe(v)}" for k, v in self.kwargs.items()]
        return f"_core.{self.name}({', '.join(parts)})"


@dataclass
class Outcome:
    kind: str  # ok, clean, failure, skipped (over run_call's max_work)
    detail: str = ""  # the exception type and message, or what was wrong


# ----------------------------------------------------------------------------- specs

def _systolic(rng: random.Random, w: list[bool]) -> Any:
    return _core.SystolicSpec(hint(rng, 1, 16, w, 0.1), hint(rng, 1, 16, w, 0.1),
                              hstr(rng, ["os", "ws", "is"], 0.05),
                              hstr(rng, ["scalesim", "pipelined"], 0.05))


def _gemm(rng: random.Random, w: list[bool], high: int = 48) -> Any:
    return _core.GemmShape(hint(rng, 1, high, w), hint(rng, 1, high, w), hint(rng, 1, high, w))


def _scratchpad(rng: random.Random, w: list[bool]) -> Any:
    word = rng.choice([1, 2, 4, 8, 16, 3]) if rng.random() < 0.9 else hint(rng, 1, 64, w)
    banks = rng.choice([1, 2, 4, 8, 16, 32, 6]) if rng.random() < 0.9 else hint(rng, 1, 64, w)
    inter = hstr(rng, ["word", "block"], 0.05)
    block = hint(rng, 0, 256, w, 0.1) if inter == "block" else 0
    size = hint(rng, 1024, 1 << 20, w, 0.5)
    if rng.random() < 0.85 and isinstance(banks, int) and isinstance(word, int):
        size = banks * word * rng.randint(1, 4096)  # a valid size, so the call gets further
    return _core.ScratchpadSpec(size, banks,
                                hint(rng, 1, 4, w, 0.1), word, inter, block, hbool(rng))


def _dram(rng: random.Random, w: list[bool]) -> Any:
    p = 0.1
    return _core.DramSpec(
        channels=hint(rng, 1, 4, w, p), banks_per_channel=hint(rng, 1, 16, w, p),
        row_bytes=rng.choice([1024, 2048, 4096]) if rng.random() > p else hint(rng, 1, 8192, w),
        burst_bytes=rng.choice([32, 64]) if rng.random() > p else hint(rng, 1, 128, w),
        data_rate_mtps=hfloat(rng, 800, 6400, w, p), bus_bits=rng.choice([16, 32, 64]),
        tRCD_ns=hfloat(rng, 10, 20, w, p), tCL_ns=hfloat(rng, 10, 20, w, p),
        tRP_ns=hfloat(rng, 10, 20, w, p), tRAS_ns=hfloat(rng, 30, 45, w, p),
        tREFI_ns=hfloat(rng, 3000, 8000, w, p), tRFC_ns=hfloat(rng, 100, 400, w, p),
        mapping=hstr(rng, ["row:bank:column:channel", "row:column:bank:channel"], 0.05))


def _gpu(rng: random.Random, w: list[bool]) -> Any:
    p = 0.08
    return _core.GpuSpec(
        arch=hstr(rng, list(_core.tc_archs()), 0.05), sms=hint(rng, 1, 144, w, p),
        clock_mhz=hfloat(rng, 500, 2500, w, p),
        register_file_bytes_per_sm=rng.choice([65536 * 4]) if rng.random() > p else hint(rng),
        smem_bytes_per_sm=rng.choice([98304, 233472]) if rng.random() > p else hint(rng),
        l2_bytes=rng.choice([6 << 20, 50 << 20]) if rng.random() > p else hint(rng),
        hbm_bandwidth_gb_per_s=hfloat(rng, 300, 4000, w, p),
        l2_bandwidth_bytes_per_clk=hfloat(rng, 1000, 5000, w, p),
        smem_bandwidth_bytes_per_clk=hfloat(rng, 64, 256, w, p),
        launch_overhead_us=hfloat(rng, 1, 5, w, p), fp32_acc_half_rate=hbool(rng))


def _bit_serial(rng: random.Random, w: list[bool]) -> Any:
    return _core.BitSerialSpec(hint(rng, 1, 8, w, 0.1), hint(rng, 1, 8, w, 0.1),
                               hint(rng, 1, 128, w, 0.1),
                               hstr(rng, ["bismo", "stripes", "bitfusion"], 0.05),
                               hint(rng, 8, 64, w, 0.1))


def _xnor(rng: random.Random, w: list[bool]) -> Any:
    return _core.XnorSpec(hint(rng, 1, 16, w, 0.1), hint(rng, 1, 64, w, 0.1),
                          hint(rng, 8, 32, w, 0.1))


def _rs(rng: random.Random, w: list[bool]) -> Any:
    return _core.RowStationarySpec(hint(rng, 1, 16, w, 0.1), hint(rng, 1, 16, w, 0.1),
                                   hint(rng, 1, 16, w, 0.1), hint(rng, 1, 4, w, 0.1))


def _window(rng: random.Random, w: list[bool]) -> Any:
    return _core.ConvWindowSpec(hint(rng, 1, 5, w, 0.1), hint(rng, 1, 5, w, 0.1),
                                hint(rng, 0, 16, w, 0.1), hint(rng, 1, 16, w, 0.1),
                                hint(rng, 1, 3, w, 0.1), hint(rng, 1, 3, w, 0.1),
                                hint(rng, 1, 2, w, 0.1), hint(rng, 1, 2, w, 0.1))


def _conv(rng: random.Random, w: list[bool]) -> Any:
    p = 0.1
    k = hint(rng, 1, 4, w, p)
    return _core.Conv2dShape(batch=hint(rng, 1, 2, w, p), in_h=hint(rng, 1, 12, w, p),
                             in_w=hint(rng, 1, 12, w, p), in_c=hint(rng, 1, 4, w, p),
                             filter_h=k, filter_w=hint(rng, 1, 4, w, p),
                             filters=hint(rng, 1, 8, w, p), stride_h=hint(rng, 1, 3, w, p),
                             stride_w=hint(rng, 1, 3, w, p), pad_h=hint(rng, 0, 2, w, p),
                             pad_w=hint(rng, 0, 2, w, p), dilation_h=hint(rng, 1, 2, w, p),
                             dilation_w=hint(rng, 1, 2, w, p))


SPECS: dict[str, Callable[[random.Random, list[bool]], Any]] = {
    "SystolicSpec": _systolic, "GemmShape": _gemm, "ScratchpadSpec": _scratchpad,
    "DramSpec": _dram, "GpuSpec": _gpu, "BitSerialSpec": _bit_serial, "XnorSpec": _xnor,
    "RowStationarySpec": _rs, "ConvWindowSpec": _window, "Conv2dShape": _conv,
}


# --------------------------------------------------------------------------- checks

def _equal(expected: np.ndarray) -> Check:
    def check(got: Any) -> str | None:
        got = got[0] if isinstance(got, tuple) else got
        if np.shape(got) != expected.shape:
            return f"shape {np.shape(got)}, expected {expected.shape}"
        if not np.array_equal(np.asarray(got), expected):
            bad = int(np.sum(np.asarray(got) != expected))
            return f"{bad} of {expected.size} elements differ from NumPy"
        return None
    return check


def _close(expected: np.ndarray) -> Check:
    def check(got: Any) -> str | None:
        if np.shape(got) != expected.shape:
            return f"shape {np.shape(got)}, expected {expected.shape}"
        if not np.allclose(np.asarray(got, np.float64), expected, rtol=1e-4, atol=1e-4,
                           equal_nan=True):
            return "differs from NumPy beyond 1e-4"
        return None
    return check


def _same_cost(closed: Callable[[], Any], fields: tuple[str, ...]) -> Check:
    """The cycle-stepped reference against the closed form (docs: they are equal)."""
    def check(got: Any) -> str | None:
        cost = got[1] if isinstance(got, tuple) else got
        try:
            want = closed()
        except ValueError:
            return None  # the closed form refuses what the reference took: not a wrong answer
        for f in fields:
            if getattr(cost, f) != getattr(want, f):
                return f"{f} = {getattr(cost, f)}, closed form {getattr(want, f)}"
        return None
    return check


def _int_operands(a: np.ndarray, b: np.ndarray) -> bool:
    return (a.ndim == b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.int8, np.int16)
            and a.shape[1] == b.shape[0])


def _within(steps: float, budget: int) -> float:
    """The steps of a call its budget accepts; 0 for one refused before it starts (cheap)."""
    return float(steps) if steps <= budget else 0.0


def _systolic_work(spec: Any, shape: Any) -> float:
    """systolic_simulate_*: cycles x (PEs + edge ports x folds in flight) <= 2^29 and folds
    <= 2^24 (csrc/units/systolic_reference.cpp, check_budget; one fold in flight assumed)."""
    c = _core.systolic_cost(spec, shape)
    if c.folds > 1 << 24:
        return 0.0
    return _within(c.cycles * (spec.rows * spec.cols + spec.rows + spec.cols), 1 << 29)


# ------------------------------------------------------------------------ the cases

def _c_spec(rng: random.Random, w: list[bool]) -> Call:
    name = rng.choice(sorted(SPECS))
    try:
        spec = SPECS[name](rng, w)
    except Exception as exc:  # noqa: BLE001 - classified as the call's outcome
        return Call(name, _raise(exc), ())
    return Call(name, lambda: spec, ())


def _c_systolic_cost(rng: random.Random, w: list[bool]) -> Call:
    fn = rng.choice(["systolic_cost", "scalesim_fold_averages", "systolic_simulate_cycles"])
    spec, shape = _systolic(rng, w), _gemm(rng, w, 24)
    check = None
    work: Callable[[], float] | None = None
    if fn == "systolic_simulate_cycles":
        check = _same_cost(lambda: _core.systolic_cost(spec, shape), ("cycles", "macs", "folds"))
        work = lambda: _systolic_work(spec, shape)  # noqa: E731
    elif fn == "scalesim_fold_averages":  # row folds x column folds <= 2^32, one step each
        def work() -> float:
            c = _core.systolic_cost(spec, shape)
            return _within(c.row_folds * c.col_folds, 1 << 32)
    return Call(fn, getattr(_core, fn), (spec, shape), check=check, work=work)


def _c_systolic_gemm(rng: random.Random, w: list[bool]) -> Call:
    spec = _systolic(rng, w)
    m, k, n = rng.randint(1, 12), rng.randint(1, 12), rng.randint(1, 12)
    dt = rng.choice([np.int8, np.int16, np.float32])
    a, b = harray(rng, dt, (m, k)), harray(rng, dt, (k, n))
    check = None
    if a.dtype == b.dtype and a.ndim == b.ndim == 2 and a.shape[1] == b.shape[0] \
            and a.dtype in (np.int8, np.int16):
        acc = np.int32 if a.dtype == np.int8 else np.int64
        check = _equal(a.astype(acc) @ b.astype(acc))
    return Call("systolic_simulate_gemm", _core.systolic_simulate_gemm, (spec, a, b),
                check=check, work=lambda: _systolic_work(spec, _core.GemmShape(m, n, k)))


def _c_conv(rng: random.Random, w: list[bool]) -> Call:
    conv = _conv(rng, w)
    if rng.random() < 0.4:
        return Call("conv2d_to_gemm", _core.conv2d_to_gemm, (conv,))
    shape = (conv.batch, conv.in_h, conv.in_w, conv.in_c)
    if math.prod(shape) > 1 << 20:  # a hostile size: the input given is a small wrong one
        shape = (1, 2, 2, conv.in_c % 7 + 1)
    x = harray(rng, rng.choice([np.int8, np.float32, np.int16]), shape)

    def check(got: Any) -> str | None:
        g = _core.conv2d_to_gemm(conv)
        if np.shape(got) != (g.m, g.k):
            return f"shape {np.shape(got)}, expected (M, K) = ({g.m}, {g.k})"
        return None
    return Call("im2col", _core.im2col, (conv, x), check=check)


def _c_scratchpad(rng: random.Random, w: list[bool]) -> Call:
    spad = _scratchpad(rng, w)
    which = rng.choice(["bank_of", "strided", "fetch", "predicted", "conflicts", "double"])
    if which == "bank_of":
        return Call("ScratchpadSpec.bank_of", spad.bank_of, (hint(rng, 0, 1 << 20, w),))
    if which == "strided":
        lanes, stride = hint(rng, 1, 64, w), hint(rng, 0, 64, w)

        def check(got: Any) -> str | None:
            if not (isinstance(lanes, int) and isinstance(stride, int)) or lanes < 1:
                return None
            if stride == 0:  # every lane reads one word: one access, no conflict
                return None if got == 0 else f"{got}, expected 0 (one shared word)"
            step = stride
            if str(spad.interleave) == "block":  # a stride of whole blocks walks the banks
                block_words = max(1, spad.block_bytes // spad.word_bytes)
                step = abs(stride) // block_words
            d = spad.banks // math.gcd(step, spad.banks)
            want = -(-lanes // (d * spad.ports_per_bank)) - 1
            return None if got == want else f"{got}, closed form {want}"
        return Call("strided_conflict_stalls", _core.strided_conflict_stalls,
                    (spad, lanes, stride), check=check)
    args = (spad, hint(rng, 1, 32, w), hint(rng, 1, 32, w), hint(rng, 1, 64, w),
            hint(rng, 0, 4096, w, 0.1), rng.choice([0, 0, 1, 2, 4, 8]), hbool(rng))
    if which == "fetch":
        return Call("systolic_fetch_pattern", _core.systolic_fetch_pattern, args)
    if which == "predicted":
        return Call("systolic_fetch_predicted_stalls", _core.systolic_fetch_predicted_stalls,
                    args)
    if which == "conflicts":
        cycles = rng.randint(0, 20)
        per = [rng.randint(0, 6) for _ in range(cycles)]
        offsets = np.concatenate([[0], np.cumsum(per)]).astype(np.int64)
        addresses = harray(rng, np.int64, (int(offsets[-1]),))
        if rng.random() < 0.2:
            offsets = harray(rng, np.int64, offsets.shape)  # not monotone, out of range

        def check_conflicts(got: Any) -> str | None:
            # requests: every address; accesses: the distinct words each cycle reads
            if got.requests != len(addresses) and offsets.ndim == 1:
                return f"requests {got.requests}, expected {len(addresses)}"
            if got.accesses > got.requests:
                return f"accesses {got.accesses} above requests {got.requests}"
            if int(np.sum(got.bank_accesses)) != got.accesses:
                return "bank_accesses do not sum to accesses"
            return None
        return Call("count_bank_conflicts", _core.count_bank_conflicts,
                    (spad, addresses, offsets), check=check_conflicts)
    tiles = harray(rng, np.int64, (rng.randint(0, 8),))
    extra: tuple[Any, ...] = ()
    if rng.random() < 0.4:
        extra = tuple(harray(rng, rng.choice([np.float64, np.int64]), (len(tiles),))
                      for _ in range(4))
    return Call("double_buffer_occupancy", _core.double_buffer_occupancy,
                (spad, tiles) + extra)


def _c_dram(rng: random.Random, w: list[bool]) -> Call:
    spec = _dram(rng, w)
    which = rng.choice(["map", "peak", "stream", "stream"])
    if which == "map":
        def check(got: Any) -> str | None:
            if not (0 <= got["channel"] < spec.channels and 0 <= got["bank"]
                    < spec.banks_per_channel and got["row"] >= 0 and got["column"] >= 0):
                return f"out of range: {got}"
            return None
        return Call("dram_map_address", _core.dram_map_address,
                    (spec, hint(rng, 0, 1 << 30, w)), check=check)
    if which == "peak":
        return Call("dram_peak_bandwidth_gb_per_s", _core.dram_peak_bandwidth_gb_per_s, (spec,))
    n = rng.randint(0, 40)
    addresses = harray(rng, np.int64, (n,))
    if rng.random() < 0.7:
        addresses = np.abs(addresses) * 64
    sizes = harray(rng, np.int64, (n,))
    if rng.random() < 0.7:
        sizes = np.abs(sizes) + 1
    args: tuple[Any, ...] = (spec, addresses, sizes)
    if rng.random() < 0.5:
        args += (harray(rng, np.bool_, (n,)),)

    def check_stream(got: Any) -> str | None:
        if got.read_bytes + got.write_bytes != got.bytes:
            return "read + write != bytes"
        if not (got.time_ns >= 0 and math.isfinite(got.time_ns)):
            return f"time_ns {got.time_ns}"
        return None
    return Call("dram_simulate_stream", _core.dram_simulate_stream, args, check=check_stream)


def _c_gpu(rng: random.Random, w: list[bool]) -> Call:
    spec = _gpu(rng, w)
    fn = rng.choice(["gpu_gemm_cost", "gpu_gemm_candidates", "gpu_gemm_simulate",
                     "gpu_gemm_cost_tile", "gpu_gemm_simulate_tile"])
    dtypes = list(_core.tc_dtypes())
    m, n, k = (hint(rng, 1, 512, w) for _ in range(3))
    dtype = hstr(rng, dtypes, 0.05)
    args: tuple[Any, ...] = (spec, m, n, k, dtype, hbool(rng), rng.choice([0, 0, 2, 4, -1]))
    if fn.endswith("_tile"):
        args += (rng.choice([16, 32, 64, 128, 0, 3]), rng.choice([16, 32, 64, 128, 7]),
                 rng.choice([16, 32, 64, 0]), hint(rng, 1, 4, w, 0.2))
    kwargs: dict[str, Any] = {}
    if rng.random() < 0.3:
        kwargs["batch"] = hint(rng, 1, 8, w)
    if rng.random() < 0.2:
        kwargs["acc"] = rng.choice(["fp32", "fp16", "int32", "bogus", None])
    if rng.random() < 0.2:
        kwargs.update(a_bits=rng.choice([0, 4, 8, 3, 99]), b_bits=rng.choice([0, 4, 8, -1]),
                      b_group=rng.choice([0, 32, 128, 7, -5]))
    check = None
    if fn in ("gpu_gemm_cost", "gpu_gemm_simulate"):
        def check(got: Any) -> str | None:
            if not (got.time_s > 0 and math.isfinite(got.time_s)):
                return f"time_s {got.time_s}"
            if isinstance(m, int) and isinstance(n, int) and isinstance(k, int) \
                    and got.macs != m * n * k * int(kwargs.get("batch", 1)):
                return f"macs {got.macs} != m*n*k*batch"
            return None
    return Call(fn, getattr(_core, fn), args, kwargs, check=check)


def _c_tc(rng: random.Random, w: list[bool]) -> Call:
    arch = hstr(rng, list(_core.tc_archs()), 0.1)
    dtype = hstr(rng, list(_core.tc_dtypes()), 0.1)
    fn = rng.choice(["tc_supports", "tc_mma_shape", "tc_macs_per_clk_per_sm",
                     "tc_supported_accs", "tc_supported_dtypes", "tc_default_acc",
                     "tc_input_bits", "tc_archs", "tc_dtypes"])
    args: tuple[Any, ...] = {
        "tc_supports": (arch, dtype, hbool(rng), rng.choice([None, "fp32", "int32", "x"])),
        "tc_mma_shape": (arch, dtype, hbool(rng)),
        "tc_macs_per_clk_per_sm": (arch, dtype, hbool(rng), rng.choice([None, "fp32", "fp16"]),
                                   hbool(rng)),
        "tc_supported_accs": (arch, dtype), "tc_supported_dtypes": (arch,),
        "tc_default_acc": (dtype,), "tc_input_bits": (dtype,), "tc_archs": (),
        "tc_dtypes": (),
    }[fn]
    return Call(fn, getattr(_core, fn), args)


def _c_bit_serial(rng: random.Random, w: list[bool]) -> Call:
    spec = _bit_serial(rng, w)
    a_bits, b_bits = hint(rng, 1, 8, w, 0.15), hint(rng, 1, 8, w, 0.15)
    fn = rng.choice(["bit_serial_cost", "bit_serial_simulate_cycles",
                     "bit_serial_peak_macs_per_cycle", "bit_fusion_factor",
                     "bit_serial_simulate_gemm", "bitserial_gemm"])
    if fn == "bit_fusion_factor":
        return Call(fn, _core.bit_fusion_factor, (a_bits, b_bits))
    if fn == "bit_serial_peak_macs_per_cycle":
        return Call(fn, _core.bit_serial_peak_macs_per_cycle, (spec, a_bits, b_bits))
    if fn in ("bit_serial_cost", "bit_serial_simulate_cycles"):
        shape = _gemm(rng, w, 24)
        check = None
        work: Callable[[], float] | None = None
        if fn == "bit_serial_simulate_cycles":
            check = _same_cost(lambda: _core.bit_serial_cost(spec, shape, a_bits, b_bits),
                               ("cycles", "macs", "bit_ops"))

            def work() -> float:  # 10 x cycles + DPU updates <= 2^32 (bit_serial_reference)
                c = _core.bit_serial_cost(spec, shape, a_bits, b_bits)
                return _within(10 * c.cycles + c.compute_cycles * spec.dm * spec.dn, 1 << 32)
        return Call(fn, getattr(_core, fn), (spec, shape, a_bits, b_bits), check=check,
                    work=work)
    m, k, n = rng.randint(1, 10), rng.randint(1, 10), rng.randint(1, 10)
    bits = max(1, min(a_bits, b_bits, 8)) if isinstance(a_bits, int) and \
        isinstance(b_bits, int) else 4
    g = np.random.default_rng(rng.getrandbits(32))
    signed = hbool(rng)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    a = g.integers(lo, hi + 1, (m, k)).astype(rng.choice([np.int8, np.int32, np.int64]))
    b = g.integers(lo, hi + 1, (k, n)).astype(a.dtype)
    if rng.random() < 0.2:
        a = harray(rng, a.dtype, a.shape)
    check = None
    if a.ndim == 2 and a.shape[1] == b.shape[0] and a.dtype.kind in "iu":
        check = _equal(a.astype(np.int64) @ b.astype(np.int64))
    if fn == "bitserial_gemm":
        return Call(fn, _core.bitserial_gemm, (a, b, a_bits, b_bits, signed, signed),
                    check=check)
    return Call(fn, _core.bit_serial_simulate_gemm, (spec, a, b, a_bits, b_bits, signed,
                                                     signed), check=check)


def _c_xnor(rng: random.Random, w: list[bool]) -> Call:
    fn = rng.choice(["xnor_cost", "xnor_simulate_cycles", "xnor_gemm", "xnor_gemm_packed",
                     "pack_pm1", "xnor_simulate_gemm", "xnor_gemm_isa"])
    if fn == "xnor_gemm_isa":
        return Call(fn, _core.xnor_gemm_isa, ())
    if fn in ("xnor_cost", "xnor_simulate_cycles"):
        spec, shape, thr = _xnor(rng, w), _gemm(rng, w, 32), hbool(rng)
        check = None
        work: Callable[[], float] | None = None
        if fn == "xnor_simulate_cycles":
            check = _same_cost(lambda: _core.xnor_cost(spec, shape, thr),
                               ("cycles", "macs", "bit_ops"))

            def work() -> float:  # 10 x cycles + PE updates <= 2^32 (check_xnor_budget)
                c = _core.xnor_cost(spec, shape, thr)
                return _within(10 * c.cycles + c.compute_cycles * spec.pe, 1 << 32)
        return Call(fn, getattr(_core, fn), (spec, shape, thr), check=check, work=work)
    m, k, n = rng.randint(1, 9), rng.randint(1, 140), rng.randint(1, 9)
    a, b = harray(rng, np.int8, (m, k), "pm1"), harray(rng, np.int8, (k, n), "pm1")
    ok = (a.ndim == b.ndim == 2 and a.dtype == b.dtype == np.int8 and a.shape[1] == b.shape[0]
          and a.size and b.size and np.isin(a, (-1, 1)).all() and np.isin(b, (-1, 1)).all())
    want = a.astype(np.int32) @ b.astype(np.int32) if ok else None
    if fn == "pack_pm1":
        def check_pack(got: Any) -> str | None:
            if got.shape != (a.shape[0], -(-a.shape[1] // 64)):
                return f"shape {got.shape}"
            bits = np.unpackbits(got.view(np.uint8), axis=1, bitorder="little")[:, :a.shape[1]]
            return None if np.array_equal(bits, (a > 0).astype(np.uint8)) else "bits differ"
        return Call(fn, _core.pack_pm1, (a,), check=check_pack if ok else None)
    isa = hstr(rng, ["auto", "scalar", "avx2", "avx512", "neon"], 0.1)
    threads = rng.choice([0, 1, 2, -1, 64])
    if fn == "xnor_gemm":
        return Call(fn, _core.xnor_gemm, (a, b, threads, isa),
                    check=_equal(want) if want is not None else None)
    if fn == "xnor_gemm_packed":
        if ok:
            ap, bp = _core.pack_pm1(a), _core.pack_pm1(np.ascontiguousarray(b.T))
        else:
            ap = harray(rng, np.uint64, (m, -(-k // 64)))
            bp = harray(rng, np.uint64, (n, -(-k // 64)))
        kk = k if rng.random() < 0.8 else hint(rng, 0, 200, w)
        return Call(fn, _core.xnor_gemm_packed, (ap, bp, kk, threads, isa),
                    check=_equal(want) if want is not None and kk == k else None)
    spec = _xnor(rng, w)
    thresholds = None
    if rng.random() < 0.4:
        thresholds = harray(rng, rng.choice([np.int32, np.int64, np.float64]), (n,))
    return Call(fn, _core.xnor_simulate_gemm, (spec, a, b, thresholds),
                check=_equal(want) if want is not None and thresholds is None else None)


def _c_row_stationary(rng: random.Random, w: list[bool]) -> Call:
    spec, window = _rs(rng, w), _window(rng, w)
    m, n, k = hint(rng, 1, 32, w), hint(rng, 1, 32, w), hint(rng, 1, 32, w)
    if rng.random() < 0.5:
        return Call("row_stationary_cost", _core.row_stationary_cost, (spec, window, m, n, k))
    def work() -> float:  # cycles x PEs x arrays <= 2^32 PE updates (row_stationary_reference)
        c = _core.row_stationary_cost(spec, window, m, n, k)
        return _within(c.cycles * spec.rows * spec.cols * spec.arrays, 1 << 32)
    return Call("row_stationary_reference", _core.row_stationary_reference,
                (spec, window, m, n, k),
                check=_same_cost(lambda: _core.row_stationary_cost(spec, window, m, n, k),
                                 ("cycles", "macs", "passes")), work=work)


def _c_int_gemm(rng: random.Random, w: list[bool]) -> Call:
    m, k, n = rng.randint(1, 12), rng.randint(1, 40), rng.randint(1, 12)
    dt = rng.choice([np.int8, np.int16])
    a, b = harray(rng, dt, (m, k)), harray(rng, dt, (k, n))
    check = None
    if _int_operands(a, b) and a.size and b.size:
        check = _equal((a.astype(np.int64) @ b.astype(np.int64)).astype(np.int32))
    return Call("int_gemm", _core.int_gemm, (a, b), check=check)


def _c_encode(rng: random.Random, w: list[bool]) -> Call:
    """The element encoders on a real format (checked bit for bit against the NumPy
    reference where the input is one it accepts) or on hostile format fields."""
    from pysim.formats import elements, registry

    names = [n for n in registry.names()
             if isinstance(registry.get(n), (registry.FloatFormat, registry.IntFormat))]
    if rng.random() < 0.05:  # which loops run: takes no input, names one of two
        return Call("encode_isa", _core.encode_isa, (),
                    check=lambda got: None if got in ("avx512", "portable") else repr(got))
    if rng.random() < 0.15:  # a code book (NF4's, or a hostile table)
        nf4 = np.asarray(registry.get("nf4").values, dtype=np.float64)
        values = nf4 if rng.random() < 0.7 else harray(rng, np.float64, (rng.randint(0, 20),))
        x = harray(rng, np.float64, (rng.randint(0, 300),))
        kw: dict[str, Any] = dict(values=values)
        if rng.random() < 0.2:
            kw.update(scales=harray(rng, np.float64, (rng.randint(0, 40),)),
                      block=hint(rng, 1, 16, w))
        want = None
        if (values is nf4 and "scales" not in kw and x.dtype.kind == "f" and x.ndim == 1
                and np.isfinite(x).all()):
            want = elements.encode_codebook(x.astype(np.float64), registry.get("nf4"),
                                            rounding="nearest_even", rng=None, name="x")
        return Call("encode_codebook", _core.encode_codebook, (x,), kwargs=kw,
                    check=_equal(want) if want is not None else None)
    fmt = registry.get(rng.choice(names))
    x = harray(rng, np.float64, (rng.randint(0, 300),))
    u = harray(rng, np.float64, x.shape) if rng.random() < 0.3 else None
    flat = np.ascontiguousarray(x, dtype=np.float64).reshape(-1) \
        if x.dtype.kind == "f" and x.ndim == 1 else None
    if isinstance(fmt, registry.FloatFormat):
        kw = dict(ebits=fmt.ebits, mbits=fmt.mbits, emin=fmt.emin, max_code=fmt.max_code,
                  specials=fmt.specials, saturate=hbool(rng), u=u)
        if rng.random() < 0.15:
            key = rng.choice(["ebits", "mbits", "emin", "max_code"])
            kw[key] = hint(rng, -2000, 2000, w)
        good = (flat is not None and u is None and kw["ebits"] == fmt.ebits
                and kw["mbits"] == fmt.mbits and kw["emin"] == fmt.emin
                and kw["max_code"] == fmt.max_code
                and (fmt.specials != "none" or not np.isnan(flat).any()))
        want = (elements.encode_float(flat, fmt, rounding="nearest_even",
                                      saturate=bool(kw["saturate"]), rng=None, name="x")
                if good else None)
        if rng.random() < 0.2:  # per-block scales, well formed or not: a clear error or codes
            kw.update(scales=harray(rng, np.float64, (rng.randint(0, 40),)),
                      block=hint(rng, 1, 16, w))
            want = None
        return Call("encode_float", _core.encode_float, (x,), kwargs=kw,
                    check=_equal(want) if want is not None else None)
    kw = dict(bits=fmt.bits, signed=fmt.signed, frac_bits=fmt.frac_bits, qmin=fmt.qmin,
              qmax=fmt.qmax, u=u)
    if rng.random() < 0.15:
        key = rng.choice(["bits", "frac_bits", "qmin", "qmax"])
        kw[key] = hint(rng, -200, 200, w)
    good = (flat is not None and u is None and np.isfinite(flat).all()
            and all(kw[k] == getattr(fmt, k) for k in ("bits", "frac_bits", "qmin", "qmax")))
    want = (elements.encode_int(flat, fmt, rounding="nearest_even", rng=None, name="x")
            if good else None)
    if rng.random() < 0.2:
        kw.update(scales=harray(rng, np.float64, (rng.randint(0, 40),)), block=hint(rng, 1, 16, w))
        want = None
    return Call("encode_int", _core.encode_int, (x,), kwargs=kw,
                check=_equal(want) if want is not None else None)


def _c_fused(rng: random.Random, w: list[bool]) -> Call:
    """quantize_fused / dequantize_fused on a real format and layout (checked bit for bit
    against pysim.formats' NumPy path where the input is one it takes), hostile arrays or
    fields otherwise."""
    qz = importlib.import_module("pysim.formats.quantize")
    from pysim.formats import registry

    name = rng.choice(["int8", "int4", "fp8_e4m3", "fp4_e2m1", "bf16", "nf4", "mxfp4",
                       "mxint8", "uint8"])
    fmt = registry.get(name)
    gran = rng.choice([None, "tensor", "group:8", "channel"])
    sdt = rng.choice([None, "fp16", "e8m0", "fp8_e4m3"]) if gran else None
    if isinstance(fmt, registry.MXFormat):
        gran, sdt = None, None
    if isinstance(fmt, registry.CodebookFormat) and gran is None:
        gran = "group:8"  # (NF4's default groups of 64 do not divide these rows)
    dt = rng.choice([np.float32, np.float64, np.float16])
    x = harray(rng, dt, (rng.randint(0, 6), 32))
    takes = x.dtype.kind == "f" and x.ndim == 2 and x.shape[1] == 32 and x.size > 0
    refused = False  # the NumPy path raises: the kernel must answer None
    try:
        ref = qz._quantize_numpy(np.asarray(x, dtype=np.float64), fmt,
                                 *qz._defaults(fmt, gran, sdt, "x"), "nearest_even", None,
                                 False, "x") if takes else None
    except ValueError:
        ref, refused = None, True
    if rng.random() < 0.4:  # dequantize: the codes of a real quantize, or hostile codes
        if ref is not None and ref.codes.dtype.itemsize <= 2 and rng.random() < 0.8:
            elem = ref.element
            table = qz._decode_table(elem, ref.codes.dtype.str)
            want = qz.dequantize(ref) if ref.codes.size else None
            if ref.scales is None:
                def same_bits(got: Any) -> str | None:  # NaN codes: compare the bits
                    assert want is not None
                    ok = np.array_equal(np.asarray(got).view(np.uint32),
                                        want.reshape(-1).view(np.uint32))
                    return None if ok else "values differ from NumPy's"
                return Call("dequantize_fused", _core.dequantize_fused,
                            (ref.codes.reshape(-1),), kwargs=dict(table=table),
                            check=None if want is None else same_bits)
            return Call("dequantize_fused", _core.dequantize_fused, (ref.codes.reshape(-1),),
                        kwargs=dict(table=table, scales=ref.scales.reshape(-1),
                                    block=ref.codes.size // max(ref.scales.size, 1)))
        codes = harray(rng, rng.choice([np.uint8, np.int8, np.uint16]), (rng.randint(0, 64),))
        kw: dict[str, Any] = dict(table=harray(rng, np.float32, (rng.randint(0, 300),)))
        if rng.random() < 0.5:
            kw.update(scales=harray(rng, np.float32, (rng.randint(0, 20),)),
                      block=hint(rng, 1, 16, w))
        return Call("dequantize_fused", _core.dequantize_fused, (codes,), kwargs=kw)
    elem = fmt.element if isinstance(fmt, registry.MXFormat) else fmt
    kw = {}
    if isinstance(elem, registry.FloatFormat):
        kw.update(element="float", ebits=elem.ebits, mbits=elem.mbits, emin=elem.emin,
                  max_code=elem.max_code, specials=elem.specials, saturate=False,
                  reject="nan" if elem.specials == "none" else "none")
    elif isinstance(elem, registry.IntFormat):
        kw.update(element="int", bits=elem.bits, frac_bits=elem.frac_bits, qmin=elem.qmin,
                  qmax=elem.qmax, reject="nonfinite")
    else:
        kw.update(element="codebook", values=np.asarray(elem.values), reject="nonfinite")
    check = None
    block = x.size if x.size else 1
    if isinstance(fmt, registry.MXFormat) or gran is not None:
        s = "e8m0" if isinstance(fmt, registry.MXFormat) else (sdt or "fp32")
        block = 32 if isinstance(fmt, registry.MXFormat) else {"tensor": max(x.size, 1),
                                                               "group:8": 8,
                                                               "channel": 32}[str(gran)]
        if s == "e8m0":
            kw.update(scale="e8m0", emax=elem.emax, reject="none")
        else:
            sf = registry.get(s)
            assert isinstance(sf, registry.FloatFormat)
            kw.update(scale="float", scale_ebits=sf.ebits, scale_mbits=sf.mbits,
                      scale_emin=sf.emin, scale_max_code=sf.max_code,
                      scale_specials=sf.specials, max_abs=float(elem.max_abs),
                      reject="nonfinite")
    if refused:
        def check(got: Any) -> str | None:
            return None if got is None else "codes for an input the NumPy path refuses"
    elif ref is not None:
        want_codes = np.ascontiguousarray(ref.codes).reshape(-1)

        def check(got: Any) -> str | None:
            if got is None:
                return "None for an input the NumPy path takes"
            if not np.array_equal(got[0].view(want_codes.dtype), want_codes):
                return "codes differ from the NumPy path"
            if ref.scales is not None and not np.array_equal(got[1], ref.scales.reshape(-1),
                                                             equal_nan=True):
                return "scales differ from the NumPy path"
            return None
    if rng.random() < 0.15:
        key = rng.choice(["ebits", "mbits", "bits", "frac_bits", "qmax", "emax", "max_abs",
                          "scale_mbits", "scale_max_code"])
        kw[key] = hint(rng, -2000, 2000, w)
        check = None
    if rng.random() < 0.1:
        block, check = hint(rng, 0, 40, w), None
    return Call("quantize_fused", _core.quantize_fused, (x,), kwargs=dict(block=block, **kw),
                check=check)


def _c_sparse(rng: random.Random, w: list[bool]) -> Call:
    rows, cols, n = rng.randint(1, 10), rng.choice([4, 8, 12, 16, 5]), rng.randint(1, 6)
    dt = rng.choice([np.float32, np.int8])
    x = harray(rng, dt, (rows, cols), "sparse")
    b = harray(rng, dt, (cols, n))
    fn = rng.choice(["csr_from_dense", "csr_matmul", "nm_compress", "nm_matmul"])
    want: np.ndarray | None = None
    if x.ndim == b.ndim == 2 and x.shape[1] == b.shape[0] and x.dtype == b.dtype \
            and x.dtype in (np.float32, np.int8) and np.isfinite(x).all() \
            and np.isfinite(b).all():
        acc = np.int32 if x.dtype == np.int8 else np.float64
        want = x.astype(acc) @ b.astype(acc)
    if fn == "csr_from_dense":
        def check_csr(got: Any) -> str | None:
            indptr, indices, values = got
            dense = np.zeros(x.shape, x.dtype)
            for r in range(x.shape[0]):
                dense[r, indices[indptr[r]:indptr[r + 1]]] = values[indptr[r]:indptr[r + 1]]
            return None if np.array_equal(dense, x, equal_nan=True) else "round trip differs"
        return Call(fn, _core.csr_from_dense, (x,),
                    check=check_csr if x.ndim == 2 and x.dtype.kind in "fi" else None)
    if fn == "csr_matmul":
        try:
            indptr, indices, values = _core.csr_from_dense(x)
        except (ValueError, TypeError):
            indptr, indices, values = (harray(rng, np.int64, (rows + 1,)),
                                       harray(rng, np.int64, (3,)), harray(rng, dt, (3,)))
        if rng.random() < 0.25:  # corrupt the CSR structure
            target = rng.choice(["indptr", "indices"])
            if target == "indptr":
                indptr = harray(rng, np.int64, indptr.shape, p_hostile=0.5)
            else:
                indices = harray(rng, np.int64, indices.shape, p_hostile=0.5)
            want = None
        r, c = rows, cols
        if rng.random() < 0.15:
            r, c, want = hint(rng, 0, 20, w), hint(rng, 0, 20, w), None
        return Call(fn, _core.csr_matmul, (indptr, indices, values, r, c, b),
                    check=None if want is None else _close(want))
    nn, mm = rng.choice([(2, 4), (1, 4), (2, 8), (4, 4)]) if rng.random() < 0.85 else \
        (hint(rng, 0, 8, w), hint(rng, 0, 8, w))
    if fn == "nm_compress":
        return Call(fn, _core.nm_compress, (x, nn, mm))
    try:
        values, index = _core.nm_compress(x, nn, mm)
    except (ValueError, TypeError):
        values, index = harray(rng, dt, (rows, 2)), harray(rng, np.uint8, (rows, 2))
        want = None
    if rng.random() < 0.25:
        index, want = harray(rng, index.dtype, index.shape, p_hostile=0.5), None
    return Call(fn, _core.nm_matmul, (values, index, nn, mm, cols, b),
                check=None if want is None else _close(want))


def _c_mma(rng: random.Random, w: list[bool]) -> Call:
    fn = rng.choice(["mma_int", "mma_float", "mma_b1"])
    m, k, n = rng.randint(1, 16), rng.randint(1, 64), rng.randint(1, 16)
    c: Any = None
    if fn == "mma_float":
        a, b = harray(rng, np.float32, (m, k)), harray(rng, np.float32, (k, n))
        if rng.random() < 0.4:
            c = harray(rng, np.float32, (m, n))
        return Call(fn, _core.mma_float, (a, b, c, rng.choice([4, 8, 16, 0, -1, 1]),
                                          hbool(rng)))
    if fn == "mma_int":
        bits = rng.choice([8, 4, 4, 3, 0, 16])
        lo, hi = (-8, 7) if bits == 4 else (-128, 127)
        g = np.random.default_rng(rng.getrandbits(32))
        a = g.integers(lo, hi + 1, (m, k)).astype(np.int8)
        b = g.integers(lo, hi + 1, (k, n)).astype(np.int8)
        if rng.random() < 0.2:
            a = harray(rng, np.int8, (m, k))
        if rng.random() < 0.4:
            c = harray(rng, np.int32, (m, n))
        check = None
        if bits in (4, 8) and a.ndim == 2 and a.dtype == np.int8 and a.shape[1] == k \
                and (c is None or (c.dtype == np.int32 and c.shape == (m, n))) \
                and (bits == 8 or ((a >= -8) & (a <= 7)).all()):
            want = a.astype(np.int64) @ b.astype(np.int64)
            if c is not None:
                want = want + c
            check = _equal(want.astype(np.int32))
        return Call(fn, _core.mma_int, (a, b, c, bits), check=check)
    a, b = harray(rng, np.uint8, (m, k), "bits"), harray(rng, np.uint8, (k, n), "bits")
    op = hstr(rng, ["xor", "and"], 0.15)
    return Call(fn, _core.mma_b1, (a, b, c, op))


def _c_pipeline(rng: random.Random, w: list[bool]) -> Call:
    fn = rng.choice(["op_pipeline_cycles", "op_pipeline_lower_bound", "round_to_tf32"])
    if fn == "round_to_tf32":
        x = hfloat(rng, -1e6, 1e6, w, 0.4)

        def check(got: Any) -> str | None:
            if isinstance(x, float) and math.isfinite(x) and abs(x) < 3e38 and (
                    not math.isfinite(got) or abs(got - x) > abs(x) * 2.0**-10 + 1e-38):
                return f"round_to_tf32({x!r}) = {got!r}"
            return None
        return Call(fn, _core.round_to_tf32, (x,), check=check)
    args: tuple[Any, ...] = (hint(rng, 1, 64, w), hfloat(rng, 0, 1e4, w), hfloat(rng, 0, 1e4, w),
                             hfloat(rng, 0, 1e4, w))
    if fn == "op_pipeline_cycles":
        args += (rng.choice([2, 2, 1, 3, 0, -1, 64]),)

    def check_finite(got: Any) -> str | None:
        return None if got >= 0 and math.isfinite(got) else f"{got!r}"
    return Call(fn, getattr(_core, fn), args, check=check_finite)


def _c_search_plans(rng: random.Random, w: list[bool]) -> Call:
    slices, cands = rng.randint(0, 4), rng.randint(0, 6)
    prices = {k: hfloat(rng, 0, 10, w, 0.1) for k in (
        "bytes_per_cycle", "transfer_latency", "dram_read_pj_per_byte",
        "dram_write_pj_per_byte", "input_write_pj_per_bit", "weight_write_pj_per_bit",
        "input_through_pj_per_bit", "weight_through_pj_per_bit", "fixed_pj",
        "run_overhead_bytes", "latency_tie")}
    prices["halves"] = rng.choice([1, 2, 2, 0])
    prices["a_on_chip"] = hbool(rng)
    if rng.random() < 0.15:
        prices.pop(rng.choice(sorted(prices)))
    candidates = np.abs(harray(rng, np.float64, (20, cands)))
    return Call("search_plans", _core.search_plans, (
        rng.choice([0, 1, 2, 3, 4, -1]), prices, candidates,
        np.abs(np.nan_to_num(harray(rng, np.int64, (3, slices)))) % 4,
        harray(rng, np.uint8, (3, slices), "bits"),
        np.abs(harray(rng, np.float64, (6, slices))),
        np.full(slices, cands, np.int64) if rng.random() < 0.8 else harray(rng, np.int64,
                                                                              (slices,)),
        harray(rng, np.uint8, (slices, cands), "bits")))


def _c_port_cycles_table(rng: random.Random, w: list[bool]) -> Call:
    groups, slices, cands = rng.randint(0, 4), rng.randint(0, 5), rng.randint(0, 6)
    rates = np.abs(harray(rng, np.float64, (groups, 3 if rng.random() < 0.9 else 2)))
    home = tuple(hint(rng, -1, max(0, groups), w) for _ in range(3))
    rows = harray(rng, np.int64, (slices, 7 if rng.random() < 0.9 else 6))
    trips = [harray(rng, np.int64, (cands,)) for _ in range(3)]
    floats = [np.abs(harray(rng, np.float64, (cands if rng.random() < 0.95 else cands + 1,)))
              for _ in range(10)]
    return Call("port_cycles_table", _core.port_cycles_table,
                (rates, home, rows, hbool(rng), *trips, *floats))


def _c_systolic_tile_sums(rng: random.Random, w: list[bool]) -> Call:
    cands = rng.randint(0, 6)
    spatial = tuple(hint(rng, 0, 2, w) for _ in range(3))
    return Call("systolic_tile_sums", _core.systolic_tile_sums, (
        hint(rng, 1, 64, w), hint(rng, 1, 64, w), spatial, hbool(rng), hint(rng, 1, 8, w),
        hint(rng, 1, 4, w), *(hint(rng, 1, 4096, w) for _ in range(3)),
        *(harray(rng, np.int64, (cands if rng.random() < 0.95 else cands + 1,))
          for _ in range(3))))


def _c_plan_candidates(rng: random.Random, w: list[bool]) -> Call:
    dims = tuple(hint(rng, 1, 300, w) for _ in range(3))
    sizes = [rng.randint(1, 5) for _ in range(3)]
    cands = tuple(np.array(sorted(rng.sample(range(1, 400), c)), dtype=np.int64)
                  if rng.random() < 0.95 else harray(rng, np.int64, (c,)) for c in sizes)
    groups, slices, sums = rng.randint(0, 3), rng.randint(0, 6), rng.randint(1, 4)
    fit = np.array([(rng.randint(0, 7), rng.choice([0, 64, 4096, 2**40, 2**62]),
                     rng.randint(1, 2)) for _ in range(groups)], dtype=np.int64).reshape(-1, 3)
    anywhere = np.array([(rng.randint(0, 7), rng.choice([0, 4096, 2**40]), 1)
                         for _ in range(rng.randint(0, 2))], dtype=np.int64).reshape(-1, 3)
    if rng.random() < 0.1:
        fit = harray(rng, np.int64, (groups, 3))
    terms = np.array([[rng.randint(0, 12) for _ in range(2)]
                      for _ in range(groups * sums)], dtype=np.int64).reshape(-1, 2)
    which = np.array([[g * sums + rng.randint(0, sums - 1) for _ in range(slices)]
                      for g in range(groups)], dtype=np.int64).reshape(groups, slices)
    if rng.random() < 0.1:
        which = harray(rng, np.int64, (groups, slices))
    a_dim = rng.choice([0, 2] * 8 + [1])
    passes = tuple(harray(rng, np.int64, (sizes[a_dim if j == 0 and a_dim != 1 else 1]
                                          if rng.random() < 0.97 else 7,), p_hostile=0.05)
                   for j in range(4))
    slow = None
    if rng.random() < 0.5:
        slow = tuple(np.abs(harray(rng, np.float64, shape)) for shape in (
            (sizes[0], sizes[2]), (sizes[2], sizes[1]), (sizes[0], sizes[1])))
    a_per_k = np.abs(harray(rng, np.float64, (sizes[0],))) if rng.random() < 0.3 else None
    bits = tuple(rng.choice([1, 4, 8, 32, 2**40]) for _ in range(3))
    scales = (rng.choice([1.0, 1.0625, float("nan"), 1e300]), rng.choice([1.0, 4.25 / 4]))

    vary = rng.choice([-1, -1, 0, groups - 1, groups, -2])
    vary_anywhere = (np.array([rng.randint(0, 1) for _ in range(len(anywhere))], dtype=np.int64)
                     if rng.random() < 0.9 else harray(rng, np.int64, (len(anywhere),)))

    def check(got: Any) -> str | None:
        pos, ints, rows, fits, room = got
        if (room is None) != (vary < 0):
            return f"room {room} for vary={vary}"
        if room is not None and not room[0] <= fit[vary][1] <= room[1]:
            return f"room {room} does not hold the group's {fit[vary][1]} bytes"
        n = len(pos)
        if ints.shape != (11, n) or rows.shape != (20, n) or fits.shape != (which.shape[1], n):
            return f"shapes {ints.shape}, {rows.shape}, {fits.shape} for {n} candidates"
        product = len(cands[0]) * len(cands[1]) * len(cands[2])
        if n and (np.any(np.diff(pos) <= 0) or pos[0] < 0 or pos[-1] >= product):
            return "positions not ascending within the product"
        return None

    return Call("plan_candidates", _core.plan_candidates, (
        dims, cands, tuple(hint(rng, 1, 64, w) for _ in range(3)), bits, hbool(rng), a_per_k,
        scales, fit, anywhere, passes, a_dim, slow, hbool(rng), hint(rng, 1, 16, w), terms,
        which, vary, vary_anywhere), check=check)


def _c_place_stays(rng: random.Random, w: list[bool]) -> Call:
    n = rng.randint(0, 12)
    gaps = [rng.randint(0, 3) for _ in range(n)]
    start = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)
    first = np.array([rng.randint(0, 30) for _ in range(n)], dtype=np.int64)
    ends = np.array([f + rng.randint(0, 8) + 2 * g for f, c in zip(first.tolist(), gaps,
                                                                   strict=True)
                     for g in range(c)], dtype=np.int64)
    nbytes = harray(rng, np.int64, (n,), p_hostile=0.1)
    if rng.random() < 0.9:
        nbytes = np.array([rng.choice([0, 1, 7, 64, 2**40, 2**62]) for _ in range(n)],
                          dtype=np.int64)
    if rng.random() < 0.1:
        start = harray(rng, np.int64, (n + 1,))
    budget = hint(rng, 0, 256, w)
    lowest = hbool(rng)

    def check(got: Any) -> str | None:
        from pysim.mapping.kept_area import Stay, _place_in_reference

        offsets, kept = got
        stays = [Stay(f"t{i}", int(nbytes[i]), int(first[i]),
                      tuple(int(e) for e in ends[start[i]:start[i + 1]]))
                 for i in range(n)]
        _, ref = _place_in_reference(stays, int(budget), lowest)
        if [ref[s] for s in stays] != kept.tolist():
            return f"kept {kept.tolist()} != the reference's {[ref[s] for s in stays]}"
        if any((o < 0) != (c == 0) for o, c in zip(offsets.tolist(), kept.tolist(),
                                                    strict=True)):
            return "an offset without a kept gap, or the reverse"
        return None

    return Call("place_stays", _core.place_stays, (first, nbytes, start, ends, budget, lowest),
                check=check)


def _c_residency_plan(rng: random.Random, w: list[bool]) -> Call:
    """``round_plan`` or ``repair_plan`` on a random keep / drop program, checked against
    planned_residency's NumPy references."""
    from pysim.mapping import planned_residency as pr

    steps = rng.randint(1, 12)
    g = rng.randint(0, 10)
    lo = np.array([rng.randint(0, steps - 1) for _ in range(g)], dtype=np.int64)
    hi = np.array([lo_k + rng.randint(0, steps - 1 - lo_k) for lo_k in lo.tolist()],
                  dtype=np.int64)
    nbytes = np.array([rng.choice([0, 1, 3, 8, 64, 2**40]) for _ in range(g)], dtype=np.int64)
    owners = rng.randint(0, 3)
    owner = np.array([rng.randint(0, owners) for _ in range(g)], dtype=np.int64)
    w_bytes = np.array([float(rng.choice([0, 5, 64])) for _ in range(owners)] + [0.0])
    w_gaps = np.bincount(owner, minlength=owners + 1).astype(np.int64)
    w_gaps[owners] = -1
    save = nbytes.astype(float) * np.array([rng.choice([1.0, 2.0]) for _ in range(g)])
    x = np.array([rng.choice([0.0, 0.5, 1.0, rng.random()]) for _ in range(g)])
    order = pr._rounding_order(x, save)
    budget = hint(rng, 0, 256, w)
    if rng.random() < 0.15:
        which = rng.randrange(4)
        if which == 0:
            lo = harray(rng, np.int64, (g,), p_hostile=0.5)
        elif which == 1:
            order = harray(rng, np.int64, (g,), p_hostile=0.5)
        elif which == 2:
            nbytes = harray(rng, np.int64, (g,), p_hostile=0.5)
        else:
            owner = harray(rng, np.int64, (g,), p_hostile=0.5)
    size = nbytes.astype(float)
    gaps = [(f"w{o}" if o < owners else f"g{k}", 0, 0, 0)
            for k, o in enumerate(np.asarray(owner).ravel().tolist()[:g])]
    whole = [f"w{i}" for i in range(owners)]
    by_name = {f"w{i}": int(w_bytes[i]) for i in range(owners)}
    common = (nbytes, lo, hi, save, owner, w_bytes, w_gaps, steps)
    if rng.random() < 0.5:
        def check_round(got: Any) -> str | None:
            ref = pr._round_reference(x, size, save, lo, hi, steps, int(budget))
            return None if np.array_equal(got, ref) else f"{got} != the reference's {ref}"

        return Call("round_plan", _core.round_plan, (*common, order, budget),
                    check=check_round)
    keep = np.array([rng.random() < 0.5 for _ in range(g)], dtype=bool)
    extra = rng.choice([0, 1, 3, 64])

    def check_repair(got: Any) -> str | None:
        ref = pr._improve_reference(keep, x, gaps, size, save, whole, by_name, lo, hi, steps,
                                    int(budget), extra=extra)
        return None if np.array_equal(got, ref) else f"{got} != the reference's {ref}"

    return Call("repair_plan", _core.repair_plan,
                (*common, keep, order, x > 1e-6, budget, extra, pr.REPAIR_PASSES, 1e9),
                check=check_repair)


CASES: list[tuple[str, Callable[[random.Random, list[bool]], Call], int]] = [
    ("specs", _c_spec, 3), ("systolic", _c_systolic_cost, 3), ("systolic_gemm",
                                                               _c_systolic_gemm, 2),
    ("conv", _c_conv, 2), ("scratchpad", _c_scratchpad, 3), ("dram", _c_dram, 2),
    ("gpu", _c_gpu, 2), ("tensor_core", _c_tc, 1), ("bit_serial", _c_bit_serial, 3),
    ("xnor", _c_xnor, 3), ("row_stationary", _c_row_stationary, 2), ("int_gemm", _c_int_gemm, 1),
    ("sparse", _c_sparse, 3), ("mma", _c_mma, 2), ("pipeline", _c_pipeline, 2),
    ("search_plans", _c_search_plans, 1), ("port_cycles_table", _c_port_cycles_table, 1),
    ("systolic_tile_sums", _c_systolic_tile_sums, 1), ("plan_candidates", _c_plan_candidates, 1),
    ("encode", _c_encode, 2), ("place_stays", _c_place_stays, 1),
    ("fused", _c_fused, 2), ("residency_plan", _c_residency_plan, 2),
]
_WEIGHTED = [c for c in CASES for _ in range(c[2])]


def make_call(seed: int, index: int) -> Call:
    """The index-th call of a seed (the same on every run and machine)."""
    rng = random.Random(seed * 1_000_003 + index)
    family, make, _ = rng.choice(_WEIGHTED)
    wrong = [False]
    try:
        call = make(rng, wrong)
    except Exception as exc:  # noqa: BLE001 - a spec the arguments needed refused its values
        call = Call(f"{family} (building the arguments)", _raise(exc), ())
    call.wrong_type = wrong[0]
    return call


def _raise(exc: BaseException) -> Callable[[], Any]:
    def again() -> Any:
        raise exc
    return again


def classify(call: Call, exc: BaseException | None, result: Any = None) -> Outcome:
    if exc is None:
        if call.check is not None:
            try:
                wrong = call.check(result)
            except Exception as check_exc:  # noqa: BLE001 - the answer is malformed
                wrong = f"the answer could not be checked ({type(check_exc).__name__}: " \
                        f"{check_exc})"
            if wrong:
                return Outcome("failure", f"wrong answer: {wrong}")
        return Outcome("ok")
    text = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
    if isinstance(exc, ValueError):
        return Outcome("clean", text)
    if isinstance(exc, TypeError) and "incompatible" in str(exc):
        # pybind11 refused an argument's Python type or an array's dtype: a clear refusal
        # naming the signature (the Python layer checks values before they get here).
        return Outcome("clean", "TypeError: incompatible function arguments"
                       + (" (a wrong type on purpose)" if call.wrong_type else ""))
    return Outcome("failure", text)


def estimated_work(call: Call) -> float:
    """The native steps ``call`` takes if accepted (0 when unknown or refused at once)."""
    if call.work is None:
        return 0.0
    try:
        return call.work()
    except Exception:  # noqa: BLE001 - the closed form refuses it: so does the call, at once
        return 0.0


def run_call(call: Call, max_work: float | None = None) -> Outcome:
    """Make the call and classify it; with ``max_work``, a call estimated to step more than
    that is not made (``skipped``; module docstring)."""
    if max_work is not None:
        steps = estimated_work(call)
        if steps > max_work:
            return Outcome("skipped", f"about {steps:.3g} native steps > --max-work "
                                      f"{max_work:.3g}")
    try:
        result = call.fn(*call.args, **call.kwargs)
    except Exception as exc:  # noqa: BLE001 - classified
        return classify(call, exc)
    return classify(call, None, result)


def run_index(seed: int, index: int, max_work: float | None = None) -> tuple[Call, Outcome]:
    """Draw and run one call; an exception while drawing is classified like one while calling
    (a spec constructor is an entry point too)."""
    rng_call = make_call(seed, index)
    return rng_call, run_call(rng_call, max_work)
