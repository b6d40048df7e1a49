"""Convolutional networks: ResNet-18/50 (torchvision, v1.5) and MobileNetV2 (torchvision).

Inference graphs in NHWC. Batch normalisation is folded into the preceding convolution (its
scale into the weights, its shift into a per-channel bias), so each conv has `bias: true` and no
BN op; with `batchnorm=True` (the training form: pysim.training gives each BN its batch
statistics and two-pass backward) each conv has no bias and is followed by a `batchnorm` op,
named as torchvision names it (`layer1.0.conv1` -> `layer1.0.bn1`). ReLU / ReLU6 are
elementwise ops; residual connections are elementwise adds. Every
convolution and the final fully connected layer are counted as MACs; pooling, activations and
adds are vector work.
"""

from __future__ import annotations

from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder


def _bn_name(conv: str) -> str:
    head, _, last = conv.rpartition(".")
    last = last.replace("conv", "bn") if "conv" in last else f"{last}_bn"
    return f"{head}.{last}" if head else last


def _conv(g: GraphBuilder, x: str, name: str, out_c: int, kernel: int, stride: int = 1,
          groups: int = 1) -> str:
    """A convolution with its batch norm: folded into the conv's bias, or (``g.batchnorm``)
    a `batchnorm` op after a bias-free conv."""
    bn = g.batchnorm
    y = g.conv(x, name, out_c, kernel, stride, groups=groups, bias=not bn)
    return g.elementwise("batchnorm", (y,), _bn_name(name)) if bn else y


def _basic_block(g: GraphBuilder, x: str, name: str, width: int, stride: int) -> str:
    """ResNet basic block: 3x3 conv (stride), ReLU, 3x3 conv, + shortcut, ReLU."""
    y = _conv(g, x, f"{name}.conv1", width, 3, stride)
    y = g.elementwise("relu", (y,), f"{name}.relu1")
    y = _conv(g, y, f"{name}.conv2", width, 3)
    return _shortcut_add(g, x, y, name, width, stride)


def _bottleneck(g: GraphBuilder, x: str, name: str, width: int, stride: int) -> str:
    """ResNet v1.5 bottleneck: 1x1, 3x3 (stride), 1x1 to 4*width, + shortcut, ReLU."""
    y = _conv(g, x, f"{name}.conv1", width, 1)
    y = g.elementwise("relu", (y,), f"{name}.relu1")
    y = _conv(g, y, f"{name}.conv2", width, 3, stride)
    y = g.elementwise("relu", (y,), f"{name}.relu2")
    y = _conv(g, y, f"{name}.conv3", 4 * width, 1)
    return _shortcut_add(g, x, y, name, 4 * width, stride)


def _shortcut_add(g: GraphBuilder, x: str, y: str, name: str, out_c: int, stride: int) -> str:
    if stride != 1 or g.shapes[x][-1] != out_c:
        x = _conv(g, x, f"{name}.downsample", out_c, 1, stride)  # 1x1 projection + folded BN
    y = g.elementwise("add", (y, x), f"{name}.add")
    return g.elementwise("relu", (y,), f"{name}.relu_out")


def _resnet(name: str, bottleneck: bool, layers: tuple[int, ...], batch: int,
            image_size: int, batchnorm: bool = False) -> Workload:
    g = GraphBuilder(name, batchnorm=batchnorm)
    x = g.input("image", (batch, image_size, image_size, 3))
    x = _conv(g, x, "conv1", 64, 7, stride=2)
    x = g.elementwise("relu", (x,), "relu")
    x = g.pool(x, "maxpool", "max", kernel=3, stride=2, padding=1)
    block = _bottleneck if bottleneck else _basic_block
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), layers, strict=True), start=1):
        for b in range(blocks):
            stride = 2 if stage > 1 and b == 0 else 1
            x = block(g, x, f"layer{stage}.{b}", width, stride)
    x = g.pool(x, "avgpool", "avg")
    g.gemm(x, "fc", 1000)
    return g.build()


def resnet18(batch: int = 1, image_size: int = 224, batchnorm: bool = False) -> Workload:
    """ResNet-18: basic blocks (2, 2, 2, 2), 1000 classes."""
    return _resnet("resnet18", False, (2, 2, 2, 2), batch, image_size, batchnorm)


def resnet50(batch: int = 1, image_size: int = 224, batchnorm: bool = False) -> Workload:
    """ResNet-50 v1.5 (stride in the 3x3 conv, as torchvision): bottlenecks (3, 4, 6, 3)."""
    return _resnet("resnet50", True, (3, 4, 6, 3), batch, image_size, batchnorm)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of `divisor`, never below 90% of `value` (torchvision)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# (expansion t, channels c, repeats n, first stride s), from the MobileNetV2 paper, Table 2.
_MOBILENET_V2_SETTINGS = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)


def mobilenet_v2(batch: int = 1, image_size: int = 224, width_mult: float = 1.0,
                 batchnorm: bool = False) -> Workload:
    """MobileNetV2: inverted residual blocks (1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1
    linear projection, + input when the shape is kept), 1000 classes; channel counts as
    torchvision (multiples of 8)."""
    g = GraphBuilder("mobilenet_v2", batchnorm=batchnorm)
    x = g.input("image", (batch, image_size, image_size, 3))
    x = _conv(g, x, "features.0", make_divisible(32 * width_mult), 3, stride=2)
    x = g.elementwise("relu6", (x,), "features.0.relu6")
    index = 1
    for t, c, n, s in _MOBILENET_V2_SETTINGS:
        out_c = make_divisible(c * width_mult)
        for i in range(n):
            name, in_c, stride = f"features.{index}", g.shapes[x][-1], s if i == 0 else 1
            y = x
            hidden = int(round(in_c * t))
            if t != 1:
                y = _conv(g, y, f"{name}.expand", hidden, 1)
                y = g.elementwise("relu6", (y,), f"{name}.expand.relu6")
            y = _conv(g, y, f"{name}.depthwise", hidden, 3, stride, groups=hidden)
            y = g.elementwise("relu6", (y,), f"{name}.depthwise.relu6")
            y = _conv(g, y, f"{name}.project", out_c, 1)
            x = g.elementwise("add", (y, x), f"{name}.add") if stride == 1 and in_c == out_c else y
            index += 1
    x = _conv(g, x, f"features.{index}", make_divisible(1280 * max(1.0, width_mult)), 1)
    x = g.elementwise("relu6", (x,), f"features.{index}.relu6")
    x = g.pool(x, "avgpool", "avg")
    g.gemm(x, "classifier", 1000)
    return g.build()
