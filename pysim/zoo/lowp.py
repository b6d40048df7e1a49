"""Low-precision and mixed-precision networks: FINN's CNV W1A1 BNN, ResNet-18 at int8 / int4 /
binary (``resnet18_precision``, ``binary_resnet18``) and the linear layers of LLaMA-7B with a
4 / 8-bit mix (``llama2_7b_linear``).

Bit widths are per op: ``weight_bits`` / ``act_bits`` of each MAC op, ``out_bits`` of what it
writes. A binary (+-1) op is an ``int`` op with ``weight_bits == act_bits == 1``; the XNOR
unit runs those (docs/low_precision_units.md, "Integration"). Where a network moves between
widths, an elementwise ``quantize`` op on the vector unit converts the tensor (for 1 bit: the
sign), so every tensor is read at the width it was written.
"""

from __future__ import annotations

import hashlib

from pysim.errors import WorkloadError
from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder


class _Builder(GraphBuilder):
    """GraphBuilder whose widths change op by op: ``at(w, a, out)`` sets the widths of the
    ops added next (``out`` defaults to ``a``)."""

    def at(self, weight_bits: int, act_bits: int, out_bits: int | None = None,
           bias_bits: int | None = None) -> _Builder:
        self.bits = {"weight_bits": weight_bits, "act_bits": act_bits,
                     "dtype": self.bits.get("dtype", "int")}
        if out_bits is not None and out_bits != act_bits:
            self.bits["out_bits"] = out_bits
        if bias_bits is not None:
            self.bits["bias_bits"] = bias_bits
        return self


# --- FINN CNV W1A1 ---------------------------------------------------------------------------

# (filters, max-pool after) of the six 3x3 convolutions, then the three fully connected layers.
_CNV_CONVS = ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False))
_CNV_FCS = (512, 512, 10)
THRESHOLD_BITS = 16


def finn_cnv(batch: int = 1) -> Workload:
    """FINN's CNV W1A1 binarized network for 32 x 32 CIFAR-10 images (Umuroglu et al., FINN,
    FPGA 2017; Blott et al., FINN-R, TRETS 2018; Xilinx/BNN-PYNQ ``cnvW1A1``).

    Six 3 x 3 convolutions without padding (64, 64, max-pool 2 x 2, 128, 128, max-pool, 256,
    256: 32 -> 30 -> 28 -> 14 -> 12 -> 10 -> 5 -> 3 -> 1 pixels), then fully connected layers
    of 512, 512 and 10. Weights are binary everywhere; the first layer reads the 8-bit image
    (w1a8), every other layer binary activations (w1a1). Each layer but the last folds batch
    norm and the sign into one threshold per output channel and writes 1-bit outputs; the
    thresholds are the layer's ``bias`` tensor, 16 bits each (an assumption about their
    width). The last layer writes its 16-bit sums (no threshold).

    MACs per image (output pixels x filters x K): conv0 900 x 64 x 27 = 1,555,200; conv1
    784 x 64 x 576 = 28,901,376; conv2 144 x 128 x 576 = 10,616,832; conv3 100 x 128 x 1152 =
    14,745,600; conv4 9 x 256 x 1152 = 2,654,208; conv5 1 x 256 x 2304 = 589,824; fc 256 x 512
    + 512 x 512 + 512 x 10 = 398,336; total 59,461,376 (the output pixels and folds are those of
    FINN's cycles-per-frame table, tests/test_xnor_cost.py).
    """
    g = _Builder("finn_cnv")
    x = g.at(1, 8).input("image", (batch, 32, 32, 3))
    act = 8
    for i, (filters, pool) in enumerate(_CNV_CONVS):
        x = g.at(1, act, 1, THRESHOLD_BITS).conv(x, f"conv{i}", filters, 3, padding=0)
        act = 1
        if pool:
            x = g.at(1, 1).pool(x, f"pool{i}", "max", kernel=2, stride=2)
    for i, units in enumerate(_CNV_FCS):
        last = i == len(_CNV_FCS) - 1
        g.at(1, 1, 16 if last else 1, None if last else THRESHOLD_BITS)
        x = g.gemm(x, f"fc{i}", units, bias=not last)
    return g.build()


# --- ResNet-18 at int8, int4, binary ---------------------------------------------------------


def _quantize(g: _Builder, x: str, name: str, bits: int) -> str:
    """The 8-bit tensor x at ``bits`` (1 bit: its sign), on the vector unit."""
    return g.at(8, 8, bits).elementwise("quantize", (x,), name)


def resnet18_precision(bits: int = 8, batch: int = 1, image_size: int = 224) -> Workload:
    """ResNet-18 (torchvision, BN folded, as ``resnet18``) with every convolution but the
    first at ``bits``-bit weights and activations (1..8); the first convolution and the final
    fully connected layer stay int8, as is usual for quantized and binary networks.

    bits = 8 is exactly ``resnet18``. Below 8 the activations between layers stay 8-bit
    (Bi-Real Net style: the residual stream and shortcuts are not binarized) and each
    low-precision convolution reads them through a ``quantize`` op (3 vector operations per
    element; at 1 bit, the sign); its sums are written as 8-bit activations. A block's first
    convolution and its downsample projection read the same quantized input. MACs equal
    ``resnet18``'s: 1,814,073,344 at 224 x 224, of which conv1 (112 x 112 x 64 x 147 =
    118,013,952) and fc (512 x 1000 = 512,000) are int8 and 1,695,547,392 at ``bits``.
    Raises WorkloadError unless bits is in 1..8.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise WorkloadError(f"zoo model 'resnet18_precision': bits must be an int in 1..8, "
                            f"got {bits!r}")
    name = {8: "resnet18", 1: "binary_resnet18"}.get(bits, f"resnet18_w{bits}a{bits}")
    g = _Builder(name)
    x = g.at(8, 8).input("image", (batch, image_size, image_size, 3))
    x = g.conv(x, "conv1", 64, 7, stride=2)
    x = g.elementwise("relu", (x,), "relu")
    x = g.pool(x, "maxpool", "max", kernel=3, stride=2, padding=1)
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for b in range(2):
            p, stride = f"layer{stage}.{b}", 2 if stage > 1 and b == 0 else 1
            q = x if bits == 8 else _quantize(g, x, f"{p}.quantize1", bits)
            y = g.at(bits, bits, 8).conv(q, f"{p}.conv1", width, 3, stride)
            y = g.at(8, 8).elementwise("relu", (y,), f"{p}.relu1")
            if bits != 8:
                y = _quantize(g, y, f"{p}.quantize2", bits)
            y = g.at(bits, bits, 8).conv(y, f"{p}.conv2", width, 3)
            shortcut = x
            if stride != 1 or g.shapes[x][-1] != width:
                shortcut = g.at(bits, bits, 8).conv(q, f"{p}.downsample", width, 1, stride)
            y = g.at(8, 8).elementwise("add", (y, shortcut), f"{p}.add")
            x = g.elementwise("relu", (y,), f"{p}.relu_out")
    x = g.at(8, 8).pool(x, "avgpool", "avg")
    g.gemm(x, "fc", 1000)
    return g.build()


def binary_resnet18(batch: int = 1, image_size: int = 224) -> Workload:
    """ResNet-18 with every convolution but the first binary (w1a1, on an XNOR unit) and the
    first convolution and the final fully connected layer int8: ``resnet18_precision(1)``."""
    return resnet18_precision(1, batch, image_size)


# --- LLaMA-7B linear layers, 4 / 8-bit mix ----------------------------------------------------

HIDDEN, LAYERS, FFN = 4096, 32, 11008
_PROJECTIONS = (("q_proj", HIDDEN, HIDDEN), ("k_proj", HIDDEN, HIDDEN),
                ("v_proj", HIDDEN, HIDDEN), ("o_proj", HIDDEN, HIDDEN),
                ("gate_proj", FFN, HIDDEN), ("up_proj", FFN, HIDDEN),
                ("down_proj", HIDDEN, FFN))  # (name, n, k)
LINEAR_MACS_PER_TOKEN = LAYERS * sum(n * k for _, n, k in _PROJECTIONS)  # 6,476,005,376


def int4_selection(int4_fraction: float, seed: int | None = None) -> frozenset[str]:
    """Names (``layer<l>.<proj>``) of the LLaMA-7B linear layers put at 4-bit weights so that
    their MACs come closest to ``int4_fraction`` of all linear MACs: the 224 layers in an
    order fixed by ``seed`` (SHA-256 of ``"<seed>/<name>"``, so the same on every platform and
    Python version), each taken when it brings the 4-bit MACs closer to the target. The share
    reached is within half of the largest layer (4096 x 11008 MACs per row, 0.35% of the
    linear MACs) of the target; seed 0 at 0.5 reaches 0.5 exactly."""
    layers = [(f"layer{i}.{proj}", n * k) for i in range(LAYERS) for proj, n, k in _PROJECTIONS]
    order = sorted(layers, key=lambda item: hashlib.sha256(
        f"{0 if seed is None else seed}/{item[0]}".encode()).hexdigest())
    target, chosen, macs = int4_fraction * LINEAR_MACS_PER_TOKEN, set(), 0
    for name, size in order:
        if abs(macs + size - target) < abs(macs - target):
            chosen.add(name)
            macs += size
    return frozenset(chosen)


def llama2_7b_linear(seq_len: int = 128, int4_fraction: float = 0.5, seed: int | None = None,
                     batch: int = 1) -> Workload:
    """The linear layers of LLaMA-2-7B prefill (Touvron et al. 2023) with mixed precision:
    per layer q, k, v, o (4096 x 4096), gate, up (4096 -> 11008) and down (11008 -> 4096),
    x 32 layers, M = batch x seq_len rows, no biases. About ``int4_fraction`` of the linear
    MACs run with 4-bit weights (w4a8), the rest w8a8 (FlattenQuant-style per-layer mix); the
    layers are chosen deterministically by ``int4_selection(int4_fraction, seed)`` (``seed``
    None is seed 0). Activations are 8-bit throughout.

    Only the linear layers are modelled, chained by stand-ins: q, k and v read the layer's
    input, k and v are graph outputs (the KV cache written to DRAM), o reads q's output (in
    place of the attention context: attention, norms and residual adds are left out), gate and
    up read o's output, an elementwise ``mul`` (SwiGLU's product; SiLU left out) joins them,
    and down reads the product and feeds the next layer.

    MACs: batch x seq_len x 6,476,005,376 (32 x (4 x 4096^2 + 3 x 4096 x 11008)); 828.9 G at
    seq_len 128. Raises WorkloadError if int4_fraction is outside [0, 1] or seed is negative.
    """
    if isinstance(int4_fraction, bool) or not isinstance(int4_fraction, (int, float)) \
            or not 0 <= int4_fraction <= 1:
        raise WorkloadError(f"zoo model 'llama2_7b_linear': int4_fraction must be a number in "
                            f"[0, 1], got {int4_fraction!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise WorkloadError(f"zoo model 'llama2_7b_linear': seed must be None or an int >= 0, "
                            f"got {seed!r}")
    int4 = int4_selection(float(int4_fraction), seed)
    g = _Builder("llama2_7b_linear")
    rows = batch * seq_len
    x = g.at(8, 8).input("embeddings", (rows, HIDDEN))

    def linear(x: str, name: str, n: int, k: int) -> str:
        bits = 4 if name in int4 else 8
        return g.at(bits, 8).gemm(x, name, n, k=k, bias=False)

    for layer in range(LAYERS):
        p = f"layer{layer}"
        q = linear(x, f"{p}.q_proj", HIDDEN, HIDDEN)
        linear(x, f"{p}.k_proj", HIDDEN, HIDDEN)
        linear(x, f"{p}.v_proj", HIDDEN, HIDDEN)
        o = linear(q, f"{p}.o_proj", HIDDEN, HIDDEN)
        gate = linear(o, f"{p}.gate_proj", FFN, HIDDEN)
        up = linear(o, f"{p}.up_proj", FFN, HIDDEN)
        f = g.at(8, 8).elementwise("mul", (gate, up), f"{p}.swiglu")
        x = linear(f, f"{p}.down_proj", HIDDEN, FFN)
    return g.build()
