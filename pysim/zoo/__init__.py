"""Model zoo: built-in workloads with parameters, built deterministically.

``pysim.zoo.load("bert_base", seq_len=128)`` returns a validated Workload; `names()` lists the
models and `describe()` gives each one's parameters with their defaults and a description.
docs/workloads.md tabulates their MACs against published figures. ``python -m pysim.zoo DIR``
writes the YAML files in workloads/ from the zoo.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pysim.errors import WorkloadError
from pysim.workload import Workload, dump_workload
from pysim.zoo.cnn import mobilenet_v2, resnet18, resnet50
from pysim.zoo.llama import llama2_7b
from pysim.zoo.lowp import binary_resnet18, finn_cnv, llama2_7b_linear, resnet18_precision
from pysim.zoo.micro import gemm
from pysim.zoo.moe import moe_ffn
from pysim.zoo.prenorm import gpt, gpt2, vit_b16
from pysim.zoo.transformer import bert_base, bert_large
from pysim.zoo.vgg import vgg16


@dataclass(frozen=True)
class ZooModel:
    """A zoo entry: `build(**params)` returns the Workload; `description` says what it is."""

    name: str
    build: Callable[..., Workload]
    description: str

    def params(self) -> dict[str, Any]:
        """Parameter name -> default value."""
        return {p.name: p.default for p in inspect.signature(self.build).parameters.values()}


_MODELS: dict[str, ZooModel] = {
    m.name: m
    for m in (
        ZooModel("resnet18", resnet18, "ResNet-18 (torchvision), BN folded into convs "
                 "(batchnorm=True: BN ops, the training form)"),
        ZooModel("resnet50", resnet50, "ResNet-50 v1.5 (torchvision), BN folded into convs "
                 "(batchnorm=True: BN ops, the training form)"),
        ZooModel("mobilenet_v2", mobilenet_v2,
                 "MobileNetV2 (torchvision), BN folded into convs (batchnorm=True: BN ops), "
                 "ReLU6"),
        ZooModel("bert_base", bert_base,
                 "BERT-base encoder: 12 layers, hidden 768, 12 heads, FFN 3072"),
        ZooModel("gemm", gemm, "one (m x k) @ (k x n) GEMM, `bits`-wide operands"),
        ZooModel("vgg16", vgg16, "VGG-16 (torchvision, no BN): 13 convs, 3 fully connected"),
        ZooModel("vit_b16", vit_b16,
                 "ViT-B/16: 16x16 patches + class token, 12 layers, hidden 768, 12 heads"),
        ZooModel("bert_large", bert_large,
                 "BERT-large encoder: 24 layers, hidden 1024, 16 heads, FFN 4096"),
        ZooModel("gpt2", gpt2, "GPT-2 small (124M) prefill: 12 layers, hidden 768, LM head"),
        ZooModel("gpt", gpt, "a GPT decoder of `layers` x `hidden` (`heads`, `ffn` 4 x hidden), "
                 "`vocab`-way LM head: Megatron-LM's scaling configurations"),
        ZooModel("llama2_7b", llama2_7b,
                 "LLaMA-2-7B, phase 'prefill' (seq_len) or 'decode' (context_len, tokens, "
                 "KV cache); kv_heads < 32 for grouped-query attention"),
        ZooModel("moe_ffn", moe_ffn,
                 "mixture-of-experts FFN layer: router + top_k of `experts` expert FFNs, "
                 "sized by the tokens each receives"),
        ZooModel("finn_cnv", finn_cnv,
                 "FINN's CNV W1A1 binarized network, 32x32 CIFAR-10 (first layer w1a8)"),
        ZooModel("binary_resnet18", binary_resnet18,
                 "ResNet-18 with binary (w1a1) convs; first conv and fc int8"),
        ZooModel("resnet18_precision", resnet18_precision,
                 "ResNet-18 with convs at `bits` (8, 4, 1 ...); first conv and fc int8"),
        ZooModel("llama2_7b_linear", llama2_7b_linear,
                 "LLaMA-2-7B linear layers (32 x q,k,v,o,gate,up,down), about int4_fraction "
                 "of the MACs w4a8, the rest w8a8"),
    )
}

YAML_MODELS = ("resnet18", "resnet50", "mobilenet_v2", "bert_base")
"""The models written to workloads/<name>.yaml (with default parameters)."""


def names() -> tuple[str, ...]:
    """Names of the zoo models."""
    return tuple(_MODELS)


def describe() -> list[tuple[str, dict[str, Any], str]]:
    """(name, {parameter: default}, description) for each zoo model."""
    return [(m.name, m.params(), m.description) for m in _MODELS.values()]


def _check_param(model: str, key: str, value: Any, default: Any) -> None:
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        return
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        allowed = "an int >= 1"
    else:
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value) and value > 0)
        allowed = "a number > 0"
    if not ok:
        raise WorkloadError(f"zoo model {model!r}: {key} must be {allowed}, got {value!r}")


def load(name: str, **params: Any) -> Workload:
    """Build zoo model `name` with `params` overriding its defaults (see `describe()`).
    Every model also takes ``sparsity`` (its weights: "N:M" such as "2:4", or a density in
    (0, 1] for unstructured) and ``act_sparsity`` (a density), applied to every op with weights
    (pysim/workload/sparsity.py).

    Raises WorkloadError if there is no such model (suggesting the nearest name), if a
    parameter is unknown or out of range, or if the parameters give an invalid graph."""
    model = _MODELS.get(name) if isinstance(name, str) else None
    if model is None:
        near = difflib.get_close_matches(str(name), list(_MODELS), n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise WorkloadError(f"no zoo model {name!r}; {hint}known: {', '.join(_MODELS)}")
    weights = params.pop("sparsity", None)
    activations = params.pop("act_sparsity", None)
    defaults = model.params()
    for key, value in params.items():
        if key not in defaults:
            raise WorkloadError(f"zoo model {name!r} has no parameter {key!r}; parameters: "
                                f"{', '.join(f'{k}={v!r}' for k, v in defaults.items())}")
        _check_param(name, key, value, defaults[key])
    try:
        wl = model.build(**params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{exc.title} {'.'.join(str(p) for p in e['loc'])}: "
            f"{e['msg'].replace('Input should', 'must')}, got {e['input']!r}"
            for e in exc.errors()
        )
        given = ", ".join(f"{k}={v!r}" for k, v in params.items())
        raise WorkloadError(f"zoo model {name!r} with {given}: {problems}") from None
    if weights is None and activations is None:
        return wl
    from pysim.workload.sparsity import sparsify

    return sparsify(wl, weights=weights, activations=activations)


def is_spec(text: str) -> bool:
    """Whether ``text`` names a zoo model (``from_spec``) rather than a file: ``zoo:...``, or a
    bare model name (``bert_base``) that is not an existing path."""
    if text.startswith("zoo:"):
        return True
    return text.partition(":")[0] in _MODELS and not Path(text).exists()


def from_spec(text: str, **defaults: Any) -> Workload:
    """A zoo model from ``[zoo:]NAME[:key=value,...]`` (``zoo:bert_base:batch=8``), values
    read as int, float or text; ``defaults`` apply where the spec sets nothing (a training
    step's ``batchnorm=True``) and the model takes them. Raises WorkloadError naming a bad
    ``key=value`` item, an unknown model or parameter (``load``)."""
    name, _, items = text.removeprefix("zoo:").partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, items.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise WorkloadError(f"zoo spec {text!r}: {item!r} is not key=value "
                                f"(zoo:{name}:key=value,...)")
        params[key.strip()] = parse_value(value.strip())
    taken = _MODELS[name].params() if name in _MODELS else {}
    for key, value in defaults.items():
        if key in taken:
            params.setdefault(key, value)
    return load(name, **params)


def parse_value(text: str) -> int | float | str:
    """A ``key=value`` item's value as given on a command line: an int, else a float, else
    the text (``zoo:`` specs, ``pysim run --set``)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def write_yaml(directory: str | Path, models: tuple[str, ...] = YAML_MODELS) -> list[Path]:
    """Write each of `models` (default parameters) to `directory`/<name>.yaml; returns paths."""
    paths = []
    for name in models:
        wl = load(name)
        path = Path(directory) / f"{name}.yaml"
        header = (f"{name}: pysim.zoo.load({name!r}), written by `python -m pysim.zoo "
                  f"workloads`.\nDo not edit by hand; tests check it equals the zoo model.\n"
                  f"MACs: {wl.macs}; weight bytes: {wl.weight_bytes}. Schema: docs/workloads.md.")
        dump_workload(wl, path, header)
        paths.append(path)
    return paths


__all__ = ["YAML_MODELS", "ZooModel", "describe", "load", "names", "write_yaml"]
