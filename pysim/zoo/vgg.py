"""VGG-16 (Simonyan and Zisserman 2015, configuration D; torchvision `vgg16`, no batch norm).

Thirteen 3x3 convolutions (padding 1, bias) each followed by ReLU, five 2x2 max pools (stride
2), then three fully connected layers (4096, 4096, 1000) with ReLU between; dropout is an
identity at inference and is left out. torchvision's adaptive average pool to 7x7 is an
identity at 224x224 and is left out: at other sizes the first fully connected layer reads the
whole 512 x s x s feature map (s = image_size / 32, rounded down by the pools).
"""

from __future__ import annotations

import math

from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder

# Output channels of each 3x3 convolution; "M" is a 2x2 max pool (torchvision cfgs["D"]).
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M")


def vgg16(batch: int = 1, image_size: int = 224) -> Workload:
    """VGG-16: 13 convs + ReLU, 5 max pools, classifier 4096-4096-1000; image_size >= 32."""
    g = GraphBuilder("vgg16")
    x = g.input("image", (batch, image_size, image_size, 3))
    conv = pool = 0
    for item in _VGG16:
        if item == "M":
            pool += 1
            x = g.pool(x, f"pool{pool}", "max", kernel=2, stride=2)
        else:
            conv += 1
            x = g.conv(x, f"conv{conv}", int(item), 3)
            x = g.elementwise("relu", (x,), f"conv{conv}.relu")
    features = math.prod(g.shapes[x][1:])
    x = g.gemm(x, "fc1", 4096, k=features)
    x = g.elementwise("relu", (x,), "fc1.relu")
    x = g.gemm(x, "fc2", 4096)
    x = g.elementwise("relu", (x,), "fc2.relu")
    g.gemm(x, "fc3", 1000)
    return g.build()
