"""``pysim serve`` flags for the KV policy, preemption, Orca reservation, MoE routing, early
exit and layer skipping, through the real CLI entry point: each bad value is one line on
stderr naming the flag, the value and what is allowed, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from pysim.cli import main

BASE = ["serve", "gpu:a100", "llama2_7b", "--rate", "2", "--duration", "5", "--no-progress",
        "--prompt-tokens", "64", "256", "--output-tokens", "8", "32"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--kv-policy", "lru"], "--kv-policy lru: must be one of full, window, h2o, cake"),
    (["--kv-policy", "h2o"], "--kv-policy h2o needs --kv-budget (tokens, or a fraction of the "
                             "prompt in (0, 1])"),
    (["--kv-policy", "cake", "--kv-budget", "0"],
     "--kv-budget 0: must be tokens (an int >= 1) or a fraction of the prompt in (0, 1]"),
    (["--kv-policy", "h2o", "--kv-budget", "1.5"],
     "--kv-budget 1.5: must be tokens (an int >= 1) or a fraction of the prompt in (0, 1]"),
    (["--kv-policy", "window", "--kv-budget", "0.5"],
     "--kv-budget 0.5: window takes a token count, an int >= 1"),
    (["--kv-budget", "64"], "--kv-budget 64: needs --kv-policy window, h2o or cake"),
    (["--preemption", "drop"], "--preemption drop: must be one of recompute, swap"),
    (["--reservation", "all"], "--reservation all: must be one of max, pow2, oracle"),
    (["--host-bandwidth", "0"], "--host-bandwidth 0.0: must be a finite number > 0"),
    (["--routing", "zipf:1.2"], "--routing zipf:1.2: applies to mixture-of-experts models; "
                                "llama2_7b has one FFN"),
    (["--skip", "1.5"], "--skip 1.5: probabilities must be numbers in [0, 1]"),
    (["--skip", "40:0.5"], "--skip 40:0.5: expected L:P[,L:P...] with layers L in 1..32"),
    (["--exit-after", "8:0.7,9:0.6"], "--exit-after 8:0.7,9:0.6: the exit probabilities must "
                                      "sum to at most 1"),
    (["--exit-after", "8:0.1", "--skip", "0.1"],
     "--exit-after and --skip: give one (early exit or layer skipping)"),
    (["--rebatch"], "--rebatch needs --exit-after or --skip"),
    (["--rate", "1e6", "--duration", "1e12"],
     "--rate 1e+06 x --duration 1e+12 = 1e+18 expected requests; at most 2,000,000"),
    (["--rate", "nan"], "--rate nan: must be a finite number > 0"),
    (["--offload", "eager"], "--offload eager: must be one of none, on_demand, prefetch"),
])
def test_bad_flags_are_one_line_errors(capsys: pytest.CaptureFixture[str], extra: list[str],
                                       message: str) -> None:
    assert main(BASE + extra) == 2
    err = capsys.readouterr().err
    assert err == f"pysim serve: error: {message}\n"


def test_moe_routing_flags(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    moe = ["serve", "gpu:h100", "mixtral_8x7b", "--precision", "int8", "--rate", "1",
           "--duration", "3", "--no-progress", "--prompt-tokens", "16", "32",
           "--output-tokens", "4", "8"]
    assert main(moe + ["--routing", "zipf:x"]) == 2
    assert capsys.readouterr().err == ("pysim serve: error: --routing zipf:x: zipf:S takes a "
                                       "finite skew S >= 0\n")
    assert main(moe + ["--routing", "lru"]) == 2
    assert "--routing lru: must be uniform, zipf:S or trace:FILE" in capsys.readouterr().err
    trace = tmp_path / "route.csv"
    trace.write_text("1,1\n")
    assert main(moe + ["--routing", f"trace:{trace}"]) == 2
    assert "routing trace has 2 experts per row, the model has 8" in capsys.readouterr().err
    trace.write_text("e0,e1,e2,e3,e4,e5,e6,e7\n9,7,0,0,0,0,0,0\n")
    assert main(moe + ["--routing", f"trace:{trace}"]) == 0
    assert main(moe + ["--routing", "zipf:1.5"]) == 0
    assert "requests, KV cache" in capsys.readouterr().out


def test_the_flags_reach_the_simulation(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    """Each flag changes what is simulated: a KV budget lowers the cache held, swap costs
    time, skipping lowers the layers run."""
    import pandas as pd

    def run(*extra: str) -> pd.DataFrame:
        out = tmp_path / "r.csv"
        assert main(BASE + ["--csv", str(out), *extra]) == 0
        return pd.read_csv(out)

    full = run()
    h2o = run("--kv-policy", "h2o", "--kv-budget", "16")
    assert "KV h2o 16" in capsys.readouterr().out
    assert h2o["e2e_s"].sum() < full["e2e_s"].sum()  # decode reads 16 cached tokens, not all
    skipped = run("--skip", "0.5", "--rebatch")
    assert skipped["tpot_s"].mean() < 0.7 * full["tpot_s"].mean()  # about half the layers
    window = run("--kv-policy", "window", "--kv-budget", "32", "--kv-sink", "4")
    assert window["e2e_s"].sum() < full["e2e_s"].sum()
    # swap vs recompute on a cache too small for the load (memory just above the weights)
    tight = ["--memory-gb", "15.5", "--rate", "20", "--output-tokens", "200", "300"]
    rec = run(*tight)
    swap = run(*tight, "--preemption", "swap", "--host-bandwidth", "1")
    assert rec["preemptions"].sum() > 0 and swap["preemptions"].sum() > 0
    assert not rec["e2e_s"].equals(swap["e2e_s"])


def test_offload_serves_a_model_larger_than_the_gpu(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["serve", "gpu:a100", "llama2_70b", "--rate", "0.5", "--duration", "4",
            "--no-progress", "--prompt-tokens", "64", "128", "--output-tokens", "4", "8"]
    assert main(args) == 2  # 138 GB of weights on 80 GB
    assert "model does not fit (llama2_70b on a100)" in capsys.readouterr().err
    assert main([*args, "--offload", "prefetch"]) == 0
    assert "GB of weights in host memory (prefetch)" in capsys.readouterr().out
    assert main(["serve", "gpu:jetson_agx_orin", *args[2:], "--offload", "on_demand"]) == 2
    assert "has no link to host memory" in capsys.readouterr().err
