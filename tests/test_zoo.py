"""The model zoo: MAC and parameter counts pinned against published figures, parameter
scaling, errors on bad names and parameters, determinism, and the YAML files in workloads/."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysim import zoo
from pysim.errors import WorkloadError
from pysim.workload import load_workload

ROOT = Path(__file__).resolve().parent.parent

# Exact MACs of each model at its defaults (batch 1, 224x224 or 128 tokens), counting every
# conv / gemm / matmul multiply-accumulate, and the published figure each must be near:
# - ResNet-18: 1.81 G (torchvision docs: 1.81 GFLOPS, counted as MACs; fvcore 1.814 G).
# - ResNet-50 (v1.5, torchvision): 4.09 G (torchvision docs 4.09; fvcore 4.089 G).
# - MobileNetV2 1.0: 300 M multiply-adds (Sandler et al. 2018, Table 4; torchvision 0.30).
# - BERT-base, 128 tokens: 12 layers x (Q,K,V,out projections 4*128*768*768 = 301,989,888
#   + Q K^T and P V 2*128*128*768 = 25,165,824 + FFN 2*128*768*3072 = 603,979,776)
#   = 12 x 931,135,488 = 11,173,625,856 (~11.2 G).
MACS = {
    "resnet18": (1_814_073_344, 1.81e9, 0.005),
    "resnet50": (4_089_184_256, 4.09e9, 0.005),
    "mobilenet_v2": (300_774_272, 300e6, 0.01),
    "bert_base": (11_173_625_856, 11.2e9, 0.005),
}

# Parameter counts: torchvision's model.parameters() (BN gamma and beta counted, so BN
# folding removes one value per conv output channel: the folded bias replaces both), and
# BERT-base (Hugging Face bert-base-uncased, 109,482,240) less the word/position/segment
# embedding tables (23,440,896 + 393,216 + 1,536) and the pooler (590,592).
PARAMS = {
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "bert_base": 109_482_240 - 23_440_896 - 393_216 - 1_536 - 590_592,
}


@pytest.fixture(scope="module")
def models():
    return {name: zoo.load(name) for name in MACS}


@pytest.mark.parametrize("name", list(MACS))
def test_macs_pinned_and_near_published(models, name):
    exact, published, tolerance = MACS[name]
    assert models[name].macs == exact
    assert abs(exact - published) <= tolerance * published


def test_bert_macs_formula():
    per_layer = 4 * 128 * 768 * 768 + 2 * 128 * 128 * 768 + 2 * 128 * 768 * 3072
    assert MACS["bert_base"][0] == 12 * per_layer


@pytest.mark.parametrize("name", list(PARAMS))
def test_parameter_counts_match_reference_models(models, name):
    wl = models[name]
    values = sum(t.elements for t in wl.tensors.values() if t.role == "weight")
    bn_folded = sum(op.out_c for op in wl.ops if op.type == "conv2d")
    assert values + (bn_folded if name != "bert_base" else 0) == PARAMS[name]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "bert_base"])
def test_batch_scales_macs_linearly(models, name):
    assert zoo.load(name, batch=3).macs == 3 * models[name].macs


def test_image_size_scales_conv_macs(models):
    fc = 2048 * 1000
    doubled = zoo.load("resnet50", image_size=448)
    assert doubled.macs - fc == 4 * (models["resnet50"].macs - fc)  # every plane 2x2 larger
    assert zoo.load("resnet18", image_size=32).ops[-1].gemm_view() == (1, 1, 1000, 512)


@pytest.mark.parametrize("seq_len", [1, 64, 384])
def test_bert_seq_len(seq_len):
    t = seq_len
    per_layer = 4 * t * 768 * 768 + 2 * t * t * 768 + 2 * t * 768 * 3072
    assert zoo.load("bert_base", seq_len=seq_len).macs == 12 * per_layer


@pytest.mark.parametrize(
    ("width_mult", "published"),
    [(0.35, 59e6), (0.5, 97e6), (0.75, 209e6), (1.4, 585e6)],  # Sandler et al., Table 6
)
def test_mobilenet_width_mult(width_mult, published):
    assert abs(zoo.load("mobilenet_v2", width_mult=width_mult).macs - published) < 0.01 * published


def test_structure(models):
    r50 = models["resnet50"]
    assert sum(op.type == "conv2d" for op in r50.ops) == 53
    assert sum(getattr(op, "op", None) == "add" for op in r50.ops) == 16
    assert r50.outputs == ("fc",)
    bert = models["bert_base"]
    assert [op.type for op in bert.ops].count("matmul") == 24
    assert [op.type for op in bert.ops].count("layernorm") == 25
    assert bert.op("layer0.scores").gemm_view() == (12, 128, 128, 64)
    mb = models["mobilenet_v2"]
    assert sum(op.type == "conv2d" and op.groups > 1 for op in mb.ops) == 17


def test_gemm_micro():
    wl = zoo.load("gemm", m=64, n=32, k=16, bits=4)
    assert wl.macs == 64 * 32 * 16
    (op,) = wl.ops
    assert (op.weight_bits, op.act_bits, op.weight_bytes) == (4, 4, 16 * 32 // 2)
    assert zoo.load("gemm").macs == 1024**3


def test_names_and_describe():
    assert zoo.names()[:5] == ("resnet18", "resnet50", "mobilenet_v2", "bert_base", "gemm")
    assert {"vgg16", "vit_b16", "bert_large", "gpt2", "llama2_7b", "moe_ffn"} <= set(zoo.names())
    table = {name: (params, text) for name, params, text in zoo.describe()}
    assert table["bert_base"][0] == {"batch": 1, "seq_len": 128, "attention": "naive"}
    assert table["mobilenet_v2"][0] == {"batch": 1, "image_size": 224, "width_mult": 1.0,
                                        "batchnorm": False}
    assert table["gemm"][0] == {"m": 1024, "n": 1024, "k": 1024, "bits": 8}
    assert all(text for _, text in table.values())


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("resnet5", {}, "no zoo model 'resnet5'; did you mean 'resnet50'"),
        ("bert", {}, "did you mean 'bert_base'"),
        ("unet", {}, "known: resnet18, resnet50"),
        ("bert_base", {"seq_len": -1}, "seq_len must be an int >= 1, got -1"),
        ("bert_base", {"seq_len": 0}, "seq_len must be an int >= 1, got 0"),
        ("bert_base", {"seq_len": 12.0}, "seq_len must be an int >= 1, got 12.0"),
        ("resnet50", {"batch": True}, "batch must be an int >= 1, got True"),
        ("resnet50", {"layers": 101}, "has no parameter 'layers'; parameters: batch=1"),
        ("mobilenet_v2", {"width_mult": 0}, "width_mult must be a number > 0, got 0"),
        ("mobilenet_v2", {"width_mult": float("nan")}, "width_mult must be a number > 0"),
        ("gemm", {"bits": 0}, "bits must be an int >= 1, got 0"),
        ("gemm", {"bits": 33}, "bits must be 1 to 32, got 33"),
        ("gemm", {"m": 2**31}, "with m=2147483648: .* must be less than or equal to 2147483647"),
    ],
)
def test_bad_name_or_parameter(name, params, match):
    with pytest.raises(WorkloadError, match=match):
        zoo.load(name, **params)


def test_deterministic(models):
    again = zoo.load("resnet50")
    assert again == models["resnet50"]
    assert again.to_yaml() == models["resnet50"].to_yaml()


@pytest.mark.parametrize("name", zoo.YAML_MODELS)
def test_yaml_files_equal_the_zoo(models, name):
    assert load_workload(ROOT / "workloads" / f"{name}.yaml") == models[name]


def test_write_yaml(tmp_path):
    (path,) = zoo.write_yaml(tmp_path, ("gemm",))
    assert path.name == "gemm.yaml"
    assert load_workload(path) == zoo.load("gemm")
    assert path.read_text().startswith("# gemm: pysim.zoo.load('gemm')")


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2"])
def test_cnn_training_form_keeps_each_batch_norm_after_a_bias_free_conv(name):
    folded, kept = zoo.load(name), zoo.load(name, batchnorm=True)
    convs = [op for op in kept.ops if op.type == "conv2d"]
    bns = [op for op in kept.ops if op.type == "elementwise" and op.op == "batchnorm"]
    assert len(bns) == len(convs) and not any(op.bias for op in convs)
    assert kept.macs == folded.macs
    producer = {op.output: op for op in kept.ops}
    assert all(producer[bn.inputs[0]].type == "conv2d" for bn in bns)
    assert "layer1.0.bn1" in {op.name for op in bns} or name == "mobilenet_v2"
