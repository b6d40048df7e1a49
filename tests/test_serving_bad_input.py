"""Bad input to the serving simulation: one clear error naming the file, line, field, row or
size (issue 16, "Bad input")."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
import pysim.serving as sv
from pysim.errors import ConfigError, WorkloadError

DATA = Path(__file__).parent / "data" / "serving"
A100 = pysim.gpu.preset("a100")


@pytest.mark.parametrize(("text", "match"), [
    ("arrival_s,prompt_tokens,output_tokens\n0,10,5\n-1,10,5\n",
     r"t\.csv:3: arrival_s must be >= 0, got '-1'"),
    ("arrival_s,prompt_tokens,output_tokens\n0,,5\n", r"t\.csv:2: prompt_tokens is missing"),
    ("arrival_s,prompt_tokens,output_tokens\n0,10,2.5\n",
     r"t\.csv:2: output_tokens must be an integer >= 1, got '2.5'"),
    ("arrival_s,prompt_tokens,output_tokens\n0,ten,5\n",
     r"t\.csv:2: prompt_tokens must be a number, got 'ten'"),
    ("arrival,prompt_tokens,output_tokens\n0,10,5\n", r"t\.csv:1: header lacks arrival_s"),
    ("arrival_s,prompt_tokens,output_tokens\n", r"no requests"),
])
def test_bad_csv_rows_name_the_line_and_field(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(WorkloadError, match=match):
        sv.load_trace(path)


def test_jsonl_missing_field_names_the_line() -> None:
    with pytest.raises(WorkloadError, match=r"missing_field\.jsonl:2: output_tokens is "
                                            r"missing"):
        sv.load_trace(DATA / "missing_field.jsonl")


def test_jsonl_not_json(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"arrival_s": 0, "prompt_tokens": 1, "output_tokens": 1}\n[1, 2\n')
    with pytest.raises(WorkloadError, match=r"t\.jsonl:2: not JSON"):
        sv.load_trace(path)


def test_prompt_longer_than_the_context_names_the_request() -> None:
    reqs = [sv.Request(0, 0.0, 100, 10), sv.Request(1, 0.1, 4000, 200)]
    with pytest.raises(WorkloadError, match=r"request 1: prompt_tokens 4000 \+ output_tokens "
                                            r"200 exceeds llama2_7b's context of 4096"):
        sv.serve(A100, "llama2_7b", reqs)


@pytest.mark.parametrize("budget", [0, -3, 0.0, 1.5, True])
def test_a_kv_budget_of_zero_is_refused(budget: object) -> None:
    with pytest.raises(ConfigError, match="budget must be"):
        sv.HeavyHitter(budget)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="budget must be"):
        sv.Cake(budget)  # type: ignore[arg-type]


def test_a_model_that_does_not_fit_states_the_sizes() -> None:
    with pytest.raises(ConfigError, match=r"model does not fit \(llama2_13b on a100_40gb\): "
                                          r"weights 26\.\d\d GB"):
        sv.serve(pysim.gpu.preset("a100_40gb"), "llama2_13b", [sv.Request(0, 0.0, 8, 8)],
                 memory_gb=20.0)


def test_hardware_without_a_memory_size_asks_for_one() -> None:
    npu = pysim.load_hardware("configs/edge_npu.yaml")
    with pytest.raises(ConfigError,
                       match=r"states no memory capacity \(dram.capacity_gib\); pass memory_gb="):
        sv.serve(npu, "tinyllama_1b", [sv.Request(0, 0.0, 8, 8)])


def test_a_request_bigger_than_the_whole_cache() -> None:
    spec = sv.model("llama2_7b")
    mem = (spec.weight_bytes + 10 * 16 * spec.kv_bytes_per_token) / 0.9 / 1e9
    with pytest.raises(WorkloadError, match=r"request 0: needs 63 KV blocks of 16 tokens"):
        sv.serve(A100, spec, [sv.Request(0, 0.0, 900, 100)], memory_gb=mem)


@pytest.mark.parametrize(("kw", "match"), [
    ({"scheduler": "fifo"}, "scheduler must be one of"),
    ({"block_size": 0}, "block_size must be an int >= 1, got 0"),
    ({"preemption": "drop"}, "preemption must be one of"),
    ({"memory_gb": -1.0}, "memory_gb must be > 0"),
])
def test_bad_settings(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        sv.ServeConfig(**kw)


def test_bad_poisson_and_model() -> None:
    with pytest.raises(WorkloadError, match="rate_per_s must be a number > 0"):
        sv.poisson(0.0, n=3)
    with pytest.raises(WorkloadError, match="exactly one of n"):
        sv.poisson(1.0)
    with pytest.raises(WorkloadError, match="no serving model 'llama9'"):
        sv.model("llama9")
    with pytest.raises(WorkloadError, match="top_k must be in"):
        sv.model("mixtral_8x7b", top_k=9)


@pytest.mark.parametrize(("kw", "match"), [
    ({"arrival_s": -1.0}, r"request 7: arrival_s must be a finite number >= 0 \(seconds\), "
                          r"got -1\.0"),
    ({"arrival_s": float("nan")}, r"request 7: arrival_s must be a finite number >= 0 .*nan"),
    ({"arrival_s": float("inf")}, r"request 7: arrival_s must be .*inf"),
    ({"prompt_tokens": 0}, r"request 7: prompt_tokens must be an int >= 1, got 0"),
    ({"output_tokens": 2.5}, r"request 7: output_tokens must be an int >= 1, got 2\.5"),
    ({"prompt_tokens": True}, r"request 7: prompt_tokens must be an int >= 1, got True"),
])
def test_a_hand_built_request_is_validated(kw: dict, match: str) -> None:
    fields = {"id": 7, "arrival_s": 0.0, "prompt_tokens": 10, "output_tokens": 5} | kw
    with pytest.raises(WorkloadError, match=match):
        sv.Request(**fields)


def test_serve_refuses_what_is_not_a_request() -> None:
    with pytest.raises(WorkloadError, match=r"requests\[1\] must be a pysim.serving.Request, "
                                            r"got tuple"):
        sv.serve(A100, "llama2_7b", [sv.Request(0, 0.0, 8, 8), (1, 0.0, 8, 8)])  # type: ignore


def test_an_unsorted_trace_names_the_file_line_of_a_too_long_request(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    # the too-long request is on line 2 but arrives last: sorted, it is request 2
    path.write_text("arrival_s,prompt_tokens,output_tokens\n9.0,4000,200\n0.0,10,5\n1.0,10,5\n")
    reqs = sv.load_trace(path)
    assert [r.source for r in reqs] == [f"{path}:3", f"{path}:4", f"{path}:2"]
    with pytest.raises(WorkloadError, match=r"request 2 \(.*t\.csv:2\): prompt_tokens 4000 \+ "
                                            r"output_tokens 200 exceeds llama2_7b's context"):
        sv.serve(A100, "llama2_7b", reqs)


def test_poisson_caps_the_expected_request_count_before_allocating() -> None:
    with pytest.raises(WorkloadError, match=r"rate_per_s x duration_s \(--rate x --duration\) "
                                            r"= 1e\+06 x 1e\+12 = 1e\+18 expected requests; "
                                            r"at most 2,000,000"):
        sv.poisson(1e6, duration_s=1e12)
    with pytest.raises(WorkloadError, match=r"n must be an int in \[1, 2,000,000\], got 3000000"):
        sv.poisson(1.0, n=3_000_000)
    assert len(sv.poisson(1.0, n=5)) == 5


def test_orca_reservation_larger_than_the_largest_buddy_chunk() -> None:
    spec = sv.model("llama2_7b")  # 4,096-token context: Orca (Max) reserves 256 blocks
    mem = (spec.weight_bytes + 180 * 16 * spec.kv_bytes_per_token) / 0.9 / 1e9
    with pytest.raises(WorkloadError, match=r"request 0: orca \(reservation 'max'\) reserves "
                                            r"256 KV blocks of 16 tokens; the buddy "
                                            r"allocator's largest chunk is 128"):
        sv.serve(A100, spec, [sv.Request(0, 0.0, 8, 8)], memory_gb=mem, scheduler="orca")
    # without the buddy allocator the whole pool counts: 256 > 180 still refused
    with pytest.raises(WorkloadError, match=r"reserves 256 KV blocks .* the cache holds 18\d"):
        sv.serve(A100, spec, [sv.Request(0, 0.0, 8, 8)], memory_gb=mem, scheduler="orca",
                 buddy=False)


def test_a_norm_form_outside_rms_and_layer_is_refused() -> None:
    import dataclasses

    llama = sv.model("llama2_7b")
    with pytest.raises(WorkloadError, match=r"norm must be one of \['rms', 'layer'\], got 'batch'"):
        dataclasses.replace(llama, norm="batch")
    # LLaMA's norms are RMS norms, OPT's LayerNorms
    norms = {name: [op.rms for op in sv.model(name).block_workload(4).ops
                    if op.type == "layernorm"] for name in ("llama2_7b", "opt_13b")}
    assert norms == {"llama2_7b": [True, True], "opt_13b": [False, False]}
