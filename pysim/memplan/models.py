"""Irregularly wired networks for the scratchpad planner's benchmark (issue 13), not in the zoo.

- `googlenet`: GoogLeNet / Inception v1 (Szegedy et al., "Going Deeper with Convolutions", CVPR
  2015, Table 1), nine Inception modules, each four branches joined by a concat copy.
- `inception_block`: its module 3a alone on its 28x28x192 input.
- `darts_net`: a CIFAR-10 network of 8 DARTS cells (Liu et al., "DARTS", ICLR 2019; the DARTS_V2
  genotype), C = 16, reductions at cells 2 and 5, as the SERENITY and COSMA papers use for
  irregular wiring.

ReLUs and batch normalisation are fused into the convolutions (no separate ops): memory planning
needs the tensors' shapes, and fused activations are what an accelerator runs. DARTS' dilated
3x3 separable convolution is built with dilation 2 (same shapes); its factorized reduce is a 1x1
stride-2 convolution (same output shape). All tensors are int8 unless `bits` says otherwise.
"""

from __future__ import annotations

from pysim.workload import Conv2d, Copy, Workload
from pysim.zoo._builder import GraphBuilder

# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), Szegedy et al. 2015, Table 1
_GOOGLENET = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _concat(g: GraphBuilder, xs: list[str], name: str) -> str:
    """Channel concat of NHWC tensors of equal batch, height and width."""
    shapes = [g.shapes[x] for x in xs]
    b, h, w, _ = shapes[0]
    out = (b, h, w, sum(s[-1] for s in shapes))
    return g._add(Copy(name=name, inputs=tuple(xs), mode="concat", shapes=tuple(shapes),
                       out_shape=out, **g.bits))


def _inception(g: GraphBuilder, x: str, name: str, cfg: tuple[int, ...]) -> str:
    c1, r3, c3, r5, c5, pp = cfg
    b1 = g.conv(x, f"{name}.1x1", c1, 1)
    b2 = g.conv(g.conv(x, f"{name}.3x3_reduce", r3, 1), f"{name}.3x3", c3, 3)
    b3 = g.conv(g.conv(x, f"{name}.5x5_reduce", r5, 1), f"{name}.5x5", c5, 5)
    b4 = g.conv(g.pool(x, f"{name}.pool", "max", kernel=3, stride=1, padding=1),
                f"{name}.pool_proj", pp, 1)
    return _concat(g, [b1, b2, b3, b4], f"{name}.concat")


def googlenet(batch: int = 1, image_size: int = 224, bits: int = 8) -> Workload:
    """GoogLeNet (Inception v1), 1000 classes, no auxiliary classifiers."""
    g = GraphBuilder("googlenet", weight_bits=bits, act_bits=bits)
    x = g.input("image", (batch, image_size, image_size, 3))
    x = g.conv(x, "conv1", 64, 7, stride=2)
    x = g.pool(x, "pool1", "max", kernel=3, stride=2, padding=1)
    x = g.conv(x, "conv2_reduce", 64, 1)
    x = g.conv(x, "conv2", 192, 3)
    x = g.pool(x, "pool2", "max", kernel=3, stride=2, padding=1)
    for name, cfg in _GOOGLENET.items():
        x = _inception(g, x, f"inception_{name}", cfg)
        if name in ("3b", "4e"):
            x = g.pool(x, f"pool_{name}", "max", kernel=3, stride=2, padding=1)
    x = g.pool(x, "avgpool", "avg")
    g.gemm(x, "fc", 1000)
    return g.build()


def inception_block(batch: int = 1, bits: int = 8) -> Workload:
    """GoogLeNet's Inception module 3a alone, on a 28x28x192 input."""
    g = GraphBuilder("inception_3a", weight_bits=bits, act_bits=bits)
    x = g.input("x", (batch, 28, 28, 192))
    _inception(g, x, "inception_3a", _GOOGLENET["3a"])
    return g.build()


# DARTS_V2 genotype (Liu et al. 2019, released code genotypes.py): (op, input node) pairs,
# two per intermediate node; nodes 0, 1 are the cell inputs.
_NORMAL = (("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
           ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2))
_REDUCE = (("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
           ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1))


def _dw_pw(g: GraphBuilder, x: str, name: str, c: int, stride: int, dilation: int) -> str:
    b, h, w, cin = g.shapes[x]
    y = g._add(Conv2d(name=f"{name}.dw", inputs=(x,), batch=b, in_h=h, in_w=w, in_c=cin,
                      out_c=cin, kernel=3, stride=stride, padding=dilation, dilation=dilation,
                      groups=cin, bias=True, **g.bits))
    return g.conv(y, f"{name}.pw", c, 1)


def _cell_op(g: GraphBuilder, op: str, x: str, name: str, c: int, stride: int) -> str:
    if op == "sep_conv_3x3":  # DARTS applies the dw + pw pair twice
        return _dw_pw(g, _dw_pw(g, x, f"{name}.a", c, stride, 1), f"{name}.b", c, 1, 1)
    if op == "dil_conv_3x3":
        return _dw_pw(g, x, name, c, stride, 2)
    if op == "max_pool_3x3":
        return g.pool(x, name, "max", kernel=3, stride=stride, padding=1)
    if stride == 1:  # skip_connect: identity
        return x
    return g.conv(x, name, c, 1, stride=2)  # factorized reduce


def _cell(g: GraphBuilder, s0: str, s1: str, name: str, c: int, reduction: bool,
          prev_reduction: bool) -> str:
    s0 = g.conv(s0, f"{name}.pre0", c, 1, stride=2 if prev_reduction else 1)
    s1 = g.conv(s1, f"{name}.pre1", c, 1)
    states = [s0, s1]
    genotype = _REDUCE if reduction else _NORMAL
    for i in range(4):
        parts = []
        for j, (op, src) in enumerate(genotype[2 * i:2 * i + 2]):
            stride = 2 if reduction and src < 2 else 1
            parts.append(_cell_op(g, op, states[src], f"{name}.n{i + 2}.{j}.{op}", c, stride))
        states.append(g.elementwise("add", tuple(parts), f"{name}.n{i + 2}"))
    return _concat(g, states[2:], f"{name}.concat")


def darts_net(batch: int = 1, image_size: int = 32, channels: int = 16, cells: int = 8,
              bits: int = 8) -> Workload:
    """A DARTS_V2 CIFAR network: stem 3x3 conv to 3C, `cells` cells (reductions at 1/3 and
    2/3 of the depth, doubling C), global average pool, 10-way classifier."""
    g = GraphBuilder("darts_net", weight_bits=bits, act_bits=bits)
    x = g.input("image", (batch, image_size, image_size, 3))
    s0 = s1 = g.conv(x, "stem", 3 * channels, 3)
    c, prev_red = channels, False
    for i in range(cells):
        red = i in (cells // 3, 2 * cells // 3)
        c = 2 * c if red else c
        s0, s1 = s1, _cell(g, s0, s1, f"cell{i}", c, red, prev_red)
        prev_red = red
    x = g.pool(s1, "avgpool", "avg")
    g.gemm(x, "classifier", 10)
    return g.build()


BENCH_MODELS = ("resnet50", "mobilenet_v2", "googlenet", "inception_block", "darts_net")
