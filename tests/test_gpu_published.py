"""The GPU presets against published whole-workload figures (tests/data/gpu/published.yaml,
benchmarks/validate_gpu.py): issue 12's targets."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import pysim

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("validate_gpu",
                                                  ROOT / "benchmarks" / "validate_gpu.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["validate_gpu"] = module
    spec.loader.exec_module(module)
    return module


def test_fixture_cites_its_sources(script) -> None:
    fx = script.load_fixture()
    for entry in fx.values():
        assert entry["source"] and entry["what"]


def test_resnet50_on_an_a100_within_a_fifth_of_mlperf(script) -> None:
    lo, hi = script.load_fixture()["mlperf_resnet50_a100"]["images_per_s"]
    ips = script.resnet50_images_per_s()
    assert 0.8 * (lo + hi) / 2 <= ips <= 1.2 * (lo + hi) / 2, ips
    # the fusion is what gets it there: without it the elementwise kernels cost a third
    assert script.resnet50_images_per_s("none") < 0.8 * ips


def test_llama_decode_in_the_hbm_bound_band(script) -> None:
    lo, hi = script.load_fixture()["llama2_7b_decode_a100"]["fraction_of_hbm_bound"]
    frac, _, _ = script.llama_decode_fraction()
    assert lo <= frac <= hi, frac


def test_report_prints(script) -> None:
    out = script.report(script.load_fixture())
    assert "ResNet-50 int8 A100" in out and "LLaMA-2-7B fp16 decode" in out


def test_flash_attention_2_on_an_a100_within_a_fifth(script) -> None:
    want = script.load_fixture()["flash_attention2_a100"]["tflops"]
    assert 0.8 * want <= script.flash_attention_tflops() <= 1.2 * want


def test_sageattention2_over_flash_attention_2_on_an_rtx_4090(script) -> None:
    lo, hi = script.load_fixture()["sageattention2_rtx4090"]["band"]
    assert lo <= script.sage2_speedup() <= hi


def test_flash_attention_2_and_3_on_an_h100_within_a_fifth(script) -> None:
    # FlashAttention-3 paper (abstract): FA2 at 35 % of an H100, FA3 up to 740 TFLOPS in fp16
    fx = script.load_fixture()
    fa2 = fx["flash_attention2_h100"]["utilization"] * pysim.gpu.preset("h100").peak_tflops("fp16")
    assert 0.8 * fa2 <= script.flash_attention_tflops(gpu="h100") <= 1.2 * fa2
    fa3 = fx["flash_attention3_h100"]["tflops"]
    got = script.flash_attention_tflops(gpu="h100", attention="flash3")
    assert 0.8 * fa3 <= got <= 1.2 * fa3
    # the paper's 1.5-2.0x over FA2: mma.sync at 2/3 of wgmma, the softmax under the GEMMs
    assert 1.5 <= got / script.flash_attention_tflops(gpu="h100") <= 2.1


@pytest.mark.parametrize("name", ["a100", "b200", "rtx4090"])
def test_flash_attention_3_is_hopper_only(name: str) -> None:
    with pytest.raises(pysim.ConfigError, match="'flash3' .* runs on hopper .* only"):
        pysim.gpu.preset(name).replace(attention="flash3")
    with pytest.raises(pysim.ConfigError, match="attention must be one of"):
        pysim.gpu.preset("h100").replace(attention="flash4")


def test_flash_attention_3_in_a_hardware_file_needs_hopper(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "gpu" / "a100.yaml").read_text()
    assert "attention: flash2" in text
    bad = tmp_path / "a100_fa3.yaml"
    bad.write_text(text.replace("attention: flash2", "attention: flash3"))
    with pytest.raises(pysim.ConfigError, match=r"a100_fa3.yaml: units\[0\].attention") as err:
        pysim.load_hardware(bad)
    assert "runs on hopper (sm90) only" in str(err.value) and "\n" not in str(err.value)
    good = tmp_path / "h100_fa3.yaml"
    good.write_text((ROOT / "configs" / "gpu" / "h100.yaml").read_text().replace(
        "attention: flash2", "attention: flash3"))
    assert pysim.gpu.GpuPreset.of(pysim.load_hardware(good)).attention == "flash3"
