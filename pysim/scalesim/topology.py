"""SCALE-Sim 3.0.0 topology files: convolution and GEMM CSVs, with SCALE-Sim's semantics.

Conv rows: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
Num Filter, Strides,`` (one stride for both directions, no padding: the IFMAP size is the padded
size), optionally followed by a sparsity ratio ``N:M`` (ignored: sparsity is off).
GEMM rows: ``Layer, M, N, K,`` (optionally ``N:M``). As SCALE-Sim does (topology_utils.py):

* the first line is a header and is skipped; blank lines are skipped; the trailing comma is
  optional here (SCALE-Sim needs it);
* a GEMM row becomes a conv with an M x K ifmap, a 1 x K filter, 1 channel, N filters, stride 1;
* a conv row whose name contains ``DP`` (depthwise) becomes ``Channels`` layers named
  ``<name>Channel_<i>`` with 1 channel each; GEMM rows are never split;
* ofmap size = ceil((IFMAP - Filter + Stride) / Stride), one more than the usual
  floor((IFMAP - Filter) / Stride) + 1 when the stride does not divide IFMAP - Filter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pysim.errors import WorkloadError

CONV_COLUMNS = (
    "Layer name",
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)
GEMM_COLUMNS = ("Layer", "M", "N", "K")


@dataclass(frozen=True)
class Layer:
    """One SCALE-Sim layer (after GEMM conversion and depthwise splitting)."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    filters: int
    stride: int
    line: int = 0  # line of the topology file it came from (0: built in code)
    source: str = ""  # that file ("": built in code)

    def __post_init__(self) -> None:
        for field in ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorkloadError(f"layer {self.name!r}: {field} must be >= 1, got {value!r}")
        if isinstance(self.stride, bool) or not isinstance(self.stride, int) or self.stride < 1:
            raise WorkloadError(f"layer {self.name!r}: stride must be >= 1, got {self.stride!r}")
        if self.filter_h > self.ifmap_h or self.filter_w > self.ifmap_w:
            raise WorkloadError(
                f"layer {self.name!r}: filter {self.filter_h}x{self.filter_w} is larger than "
                f"the ifmap {self.ifmap_h}x{self.ifmap_w}"
            )
        for dim, value in (("M", self.m), ("N", self.n), ("K", self.k)):
            if value > MAX_GEMM_DIM:
                raise WorkloadError(f"layer {self.name!r}: its GEMM's {dim} = {value} is too "
                                    f"large; at most {MAX_GEMM_DIM}")

    @property
    def ofmap_h(self) -> int:
        return _ofmap_dim(self.ifmap_h, self.filter_h, self.stride)

    @property
    def ofmap_w(self) -> int:
        return _ofmap_dim(self.ifmap_w, self.filter_w, self.stride)

    @property
    def m(self) -> int:
        """Output pixels per filter (GEMM rows)."""
        return self.ofmap_h * self.ofmap_w

    @property
    def n(self) -> int:
        """Filters (GEMM columns)."""
        return self.filters

    @property
    def k(self) -> int:
        """Window size Fh x Fw x C (GEMM reduction)."""
        return self.filter_h * self.filter_w * self.channels

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k

    @property
    def unique_ifmap_words(self) -> int:
        """Distinct ifmap words that some window tap reads (taps off the ifmap edge, which
        SCALE-Sim's ceil ofmap size creates, read nothing)."""
        rows = _touched(self.ifmap_h, self.filter_h, self.stride)
        cols = _touched(self.ifmap_w, self.filter_w, self.stride)
        return rows * cols * self.channels

    @property
    def unique_filter_words(self) -> int:
        return self.k * self.n

    # Which (pixel, tap) pairs read a real ifmap word. Pixel p = oh * ofmap_w + ow, tap
    # t = (r * filter_w + c) * channels + ch, as in SCALE-Sim's operand_matrix.py; the pair is
    # valid when oh * stride + r < ifmap_h and ow * stride + c < ifmap_w.

    def last_tap_of_pixel(self, p: int) -> int | None:
        """Largest tap that pixel p reads from the ifmap (None: its window is off the edge)."""
        oh, ow = divmod(p, self.ofmap_w)
        r = min(self.filter_h, self.ifmap_h - oh * self.stride) - 1
        c = min(self.filter_w, self.ifmap_w - ow * self.stride) - 1
        if r < 0 or c < 0:
            return None
        return (r * self.filter_w + c) * self.channels + self.channels - 1

    def _tap_limits(self, t: int) -> tuple[int, int]:
        """(last ofmap row, last ofmap column) whose window has tap t on the ifmap."""
        r, rest = divmod(t, self.filter_w * self.channels)
        c = rest // self.channels
        oh = min(self.ofmap_h - 1, (self.ifmap_h - 1 - r) // self.stride)
        ow = min(self.ofmap_w - 1, (self.ifmap_w - 1 - c) // self.stride)
        return oh, ow

    def last_pixel_of_tap(self, t: int) -> int:
        """Largest pixel whose tap t is on the ifmap (pixel 0 always is)."""
        oh, ow = self._tap_limits(t)
        return oh * self.ofmap_w + ow

    def tap_on_ifmap_for_any(self, t: int, p0: int, p1: int) -> bool:
        """Whether some pixel in p0..p1 has its tap t on the ifmap."""
        oh_max, ow_max = self._tap_limits(t)
        oh, ow = divmod(p0, self.ofmap_w)
        if oh > oh_max:
            return False
        if ow > ow_max:  # next valid pixel starts the next ofmap row
            oh += 1
            if oh > oh_max:
                return False
            return oh * self.ofmap_w <= p1
        return True


def gemm_layer(name: str, m: int, n: int, k: int, line: int = 0) -> Layer:
    """SCALE-Sim's GEMM-as-conv: ifmap M x K, filter 1 x K, 1 channel, N filters, stride 1."""
    return Layer(name, m, k, 1, k, 1, n, 1, line)


def _ofmap_dim(size: int, filt: int, stride: int) -> int:
    return -(-(size - filt + stride) // stride)  # ceil, as SCALE-Sim


def _touched(size: int, filt: int, stride: int) -> int:
    """Rows (or columns) of the ifmap covered by at least one window position."""
    if stride <= filt:
        return size  # windows overlap or abut, and the ceil ofmap size reaches the edge
    full = (size - filt) // stride + 1  # windows entirely inside the ifmap
    rows = full * filt
    if _ofmap_dim(size, filt, stride) > full:  # one more window hanging off the edge
        rows += max(0, size - full * stride)
    return rows


def _fields(line: str) -> list[str]:
    fields = [f.strip() for f in line.split(",")]
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()  # trailing comma
    return fields


# Each dimension of a layer, and its GEMM view's M, N and K (products of them), fit the C++
# models' signed 64-bit integers (which then check their own products for overflow).
MAX_DIM = MAX_GEMM_DIM = (1 << 62) - 1


def _parse_int(where: str, column: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise WorkloadError(f"{where}: column '{column}' = {raw!r} is not an integer") from None
    if value <= 0:
        raise WorkloadError(f"{where}: column '{column}' = {value} must be a positive integer")
    if value > MAX_DIM:
        raise WorkloadError(f"{where}: column '{column}' = {value} is too large; at most "
                            f"{MAX_DIM}")
    return value


def _check_sparsity(where: str, raw: str) -> None:
    parts = raw.split(":")
    ok = len(parts) == 2 and all(p.strip().isdigit() for p in parts)
    if ok:
        n, m = (int(p) for p in parts)
        ok = 1 <= n <= m
    if not ok:
        raise WorkloadError(
            f"{where}: column 'Sparsity' = {raw!r} is not a ratio N:M with 1 <= N <= M"
        )


def parse_topology(text: str, source: str = "<topology>", gemm: bool = False) -> list[Layer]:
    """Parse the text of a SCALE-Sim topology CSV. Raises WorkloadError naming the source,
    line, column and value on bad input."""
    columns = GEMM_COLUMNS if gemm else CONV_COLUMNS
    lines = text.splitlines()
    numbered = [(i + 1, raw.strip()) for i, raw in enumerate(lines) if raw.strip()]
    if not numbered:
        raise WorkloadError(f"{source}: the topology file is empty (expected a header line)")
    header_line, header = numbered[0]
    header_fields = _fields(header)
    if len(header_fields) > 1 and all(f.lstrip("-").isdigit() for f in header_fields[1:]):
        raise WorkloadError(
            f"{source}:{header_line}: the first line looks like a layer, but SCALE-Sim always "
            f"skips the first line as a header; add a header line ({', '.join(columns)},)"
        )
    layers: list[Layer] = []
    for lineno, line in numbered[1:]:
        where = f"{source}:{lineno}"
        fields = _fields(line)
        if len(fields) < len(columns):
            raise WorkloadError(
                f"{where}: {len(fields)} columns, expected {len(columns)} "
                f"({', '.join(columns)}) and an optional sparsity ratio"
            )
        if len(fields) > len(columns) + 1:
            raise WorkloadError(
                f"{where}: {len(fields)} columns, expected at most {len(columns) + 1} "
                f"({', '.join(columns)}, Sparsity)"
            )
        if len(fields) == len(columns) + 1:
            _check_sparsity(where, fields[-1])
        name = fields[0]
        dims = [
            _parse_int(where, col, raw)
            for col, raw in zip(columns[1:], fields[1 : len(columns)], strict=True)
        ]
        try:
            layers.extend(_layers(name, dims, gemm, lineno, where))
        except WorkloadError as exc:
            message = str(exc)
            raise WorkloadError(message if message.startswith(where) else f"{where}: {message}"
                                ) from None
    if not layers:
        raise WorkloadError(f"{source}: the topology file has a header but no layers")
    return layers


MAX_DEPTHWISE_CHANNELS = 1 << 16  # a depthwise row becomes one layer per channel


def _layers(name: str, dims: list[int], gemm: bool, lineno: int, where: str) -> list[Layer]:
    """The layers of one topology row."""
    if gemm:
        m, n, k = dims
        return [gemm_layer(name, m, n, k, lineno)]
    h, w, fh, fw, ch, nf, stride = dims
    for col, filt, size, size_col in (
        ("Filter Height", fh, h, "IFMAP Height"),
        ("Filter Width", fw, w, "IFMAP Width"),
    ):
        if filt > size:
            raise WorkloadError(
                f"{where}: column '{col}' = {filt} is larger than '{size_col}' = {size} "
                f"(SCALE-Sim has no padding: give the padded ifmap size)"
            )
    if "DP" in name:  # depthwise: one single-channel layer per channel, as SCALE-Sim
        if ch > MAX_DEPTHWISE_CHANNELS:
            raise WorkloadError(f"{where}: column 'Channels' = {ch} of a depthwise layer "
                                f"is too large; at most {MAX_DEPTHWISE_CHANNELS} (one "
                                "layer per channel)")
        return [Layer(f"{name}Channel_{c}", h, w, fh, fw, 1, nf, stride, lineno)
                for c in range(ch)]
    return [Layer(name, h, w, fh, fw, ch, nf, stride, lineno)]


def load_topology(path: str | Path, gemm: bool = False) -> list[Layer]:
    """Read a SCALE-Sim conv (default) or GEMM (``gemm=True``) topology CSV."""
    p = Path(path)
    if not p.is_file():
        raise WorkloadError(f"{p}: topology file not found")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise WorkloadError(f"{p}: not a text (UTF-8) file") from None
    return [replace(layer, source=str(p)) for layer in parse_topology(text, str(p), gemm)]
