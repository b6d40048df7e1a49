"""Seeded cases for the Python API: shipped hardware configs and zoo workloads, mutated (a
field set to a hostile value, deleted, renamed; an unknown field; a dangling or cyclic tensor
name; a duplicated op) and loaded through ``hardware_from_dict`` / ``workload_from_dict``, or
mutated as text (truncated, a line dropped or doubled, bytes flipped) and loaded from a file
through ``load_hardware`` / ``load_workload``; what loads is simulated on a small case.

Outcomes as for the core cases: ``ok``; ``clean`` (a ValueError -- ConfigError and
WorkloadError are ones -- with a one-line message); ``failure`` (any other exception, or an
error message of several lines)."""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HARDWARE = ["configs/edge_npu.yaml", "configs/eyeriss.yaml", "configs/tpu_v1.yaml",
            "configs/lowp_edge.yaml"]
HOSTILE: list[Any] = [-1, 0, 1, 2**31, 2**63, -(2**63), 10**20, 1.0e308, -1.0e308,
                      float("nan"), float("inf"), float("-inf"), 0.5, -0.0, "abc", "", "1e9",
                      None, True, [], {}, [1, 2], {"a": 1}, "x" * 2000, [[[[[]]]]], 4096,
                      65536, 1e-300, "\x00", "../../etc/passwd", "/dev/zero"]


@dataclass
class ApiCase:
    what: str  # hardware, workload, hardware-text, workload-text
    base: str  # the shipped file or zoo workload it came from
    mutation: str  # what was changed, for a reproducer
    data: Any  # the mutated dict, or the mutated text
    simulate: bool

    def describe(self) -> str:
        return f"{self.what} from {self.base}: {self.mutation}"


@dataclass
class ApiOutcome:
    kind: str
    detail: str = ""


@cache
def _hardware(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


@cache
def _hardware_text(name: str) -> str:
    return (ROOT / name).read_text()


@cache
def _workload(name: str) -> dict[str, Any]:
    """A zoo workload (small parameters) or a shipped YAML, as the dict a YAML file holds."""
    if name.endswith(".yaml"):
        return yaml.safe_load((ROOT / name).read_text())
    import tempfile

    from pysim import zoo
    from pysim.workload import dump_workload

    zoo_name, _, params = name.partition(":")
    kwargs = {k: int(v) for k, v in (p.split("=") for p in params.split(",") if p)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wl.yaml"
        dump_workload(zoo.load(zoo_name, **kwargs), path)
        return yaml.safe_load(path.read_text())


WORKLOADS = ["workloads/tiny_cnn.yaml", "gemm:m=64,n=32,k=48", "resnet18:image_size=32",
             "bert_base:seq_len=16", "mobilenet_v2:image_size=32"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def mutate_dict(rng: random.Random, data: Any, is_workload: bool) -> tuple[Any, str]:
    data = copy.deepcopy(data)
    paths = _paths(data)
    ops = ["set", "set", "set", "delete", "unknown", "retype"]
    if is_workload:
        ops += ["dangling", "cycle", "duplicate", "self"]
    op = rng.choice(ops)
    if is_workload and op in ("dangling", "cycle", "duplicate", "self"):
        ops_list = data.get("ops") or []
        if len(ops_list) >= 2:
            i = rng.randrange(len(ops_list))
            target = ops_list[i]
            if op == "duplicate":
                ops_list.insert(i, copy.deepcopy(target))
                return data, f"ops[{i}] ({target.get('name')}) duplicated"
            inputs = target.setdefault("inputs", [])
            if op == "dangling":
                inputs.append("no_such_tensor")
                return data, f"ops[{i}].inputs += ['no_such_tensor']"
            if op == "self":
                target["inputs"] = [target.get("name")]
                return data, f"ops[{i}].inputs = [its own name]"
            later = ops_list[rng.randrange(i, len(ops_list))].get("name")
            ops_list[0].setdefault("inputs", []).append(later)
            return data, f"ops[0].inputs += [{later!r}] (a cycle)"
        op = "set"
    path = rng.choice(paths)
    parent, key = _get(data, path[:-1]), path[-1]
    where = ".".join(str(p) for p in path)
    if op == "delete":
        del parent[key]
        return data, f"{where} deleted"
    if op == "unknown":
        node = parent if isinstance(parent, dict) else data
        node["bogus_field"] = 1
        return data, f"unknown field 'bogus_field' beside {where}"
    if op == "retype":
        old = parent[key]
        new: Any = {"v": old} if not isinstance(old, dict) else [old]
        parent[key] = new
        return data, f"{where} = {_short(new)}"
    value = rng.choice(HOSTILE)
    if isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool) \
            and rng.random() < 0.4:
        value = rng.choice([parent[key] * 1000, -parent[key], parent[key] + 0.5,
                            parent[key] * 10**12])
    parent[key] = value
    return data, f"{where} = {_short(value)}"


def mutate_text(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    op = rng.choice(["truncate", "drop", "double", "flip", "indent", "tab", "bom"])
    if op == "truncate":
        cut = rng.randrange(len(text))
        return text[:cut], f"truncated at byte {cut}"
    i = rng.randrange(len(lines))
    if op == "drop":
        return "".join(lines[:i] + lines[i + 1:]), f"line {i + 1} dropped"
    if op == "double":
        return "".join(lines[:i + 1] + lines[i:]), f"line {i + 1} doubled"
    if op == "indent":
        return "".join(lines[:i] + ["   " + lines[i]] + lines[i + 1:]), f"line {i + 1} indented"
    if op == "tab":
        return "".join(lines[:i] + ["\t" + lines[i]] + lines[i + 1:]), f"tab before line {i + 1}"
    if op == "bom":
        return "\ufeff" + text + "\x00\xff", "a BOM and NUL / 0xff appended"
    pos = rng.randrange(len(text))
    ch = rng.choice([":", "[", "{", "'", '"', "&", "*", "!", "%", "\\", "-", "#", "|", ">"])
    return text[:pos] + ch + text[pos + 1:], f"byte {pos} -> {ch!r}"


def make_case(seed: int, index: int) -> ApiCase:
    rng = random.Random(seed * 1_000_003 + index)
    what = rng.choice(["hardware", "hardware", "workload", "workload", "hardware-text",
                       "workload-text"])
    if what.startswith("hardware"):
        base = rng.choice(HARDWARE)
        if what == "hardware":
            data, mutation = mutate_dict(rng, _hardware(base), False)
        else:
            data, mutation = mutate_text(rng, _hardware_text(base))
    else:
        base = rng.choice(WORKLOADS)
        if what == "workload":
            data, mutation = mutate_dict(rng, _workload(base), True)
        else:
            data, mutation = mutate_text(rng, yaml.safe_dump(_workload(base), sort_keys=False))
    return ApiCase(what, base, mutation, data, simulate=rng.random() < 0.5)


def clean_message(text: str, source: str) -> str | None:
    """None if ``text`` is a clean error message: one line, or a list of problems whose every
    line names the file or is a ``  - `` item; each line at most 500 characters. Else what is
    wrong with it."""
    lines = text.strip().splitlines()
    if not lines:
        return "an empty message"
    if "Traceback" in text:
        return "a traceback in the message"
    too_long = [ln for ln in lines if len(ln) > 500]
    if too_long:
        return f"a line of {len(too_long[0])} characters"
    if len(lines) > 1:
        odd = [ln for ln in lines[1:] if not ln.startswith("  - ") and source not in ln]
        if odd:
            return f"line {lines.index(odd[0]) + 1} names neither the file nor a field: " \
                   f"{odd[0][:80]!r}"
    return None


def _classify_error(exc: BaseException, source: str) -> ApiOutcome:
    wrong = clean_message(str(exc), source)
    if wrong:
        return ApiOutcome("failure", f"{type(exc).__name__} message: {wrong}: "
                                     f"{str(exc)[:200]!r}")
    return ApiOutcome("clean", f"{type(exc).__name__}: {str(exc)[:300]}")


def run_case(case: ApiCase, tmp: Path) -> ApiOutcome:
    import pysim
    from pysim.config.loader import hardware_from_dict
    from pysim.workload.loader import workload_from_dict

    try:
        if case.what == "hardware":
            hw = hardware_from_dict(case.data, source="fuzz.yaml")
            wl = pysim.load_workload(ROOT / "workloads" / "tiny_cnn.yaml")
        elif case.what == "workload":
            wl = workload_from_dict(case.data, source="fuzz.yaml")
            hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
        else:
            path = tmp / "fuzz.yaml"
            path.write_text(case.data, encoding="utf-8", errors="surrogateescape")
            if case.what == "hardware-text":
                hw = pysim.load_hardware(path)
                wl = pysim.load_workload(ROOT / "workloads" / "tiny_cnn.yaml")
            else:
                wl = pysim.load_workload(path)
                hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
        if case.simulate:
            res = pysim.simulate(hw, wl)
            for name in ("latency_s", "energy_j"):
                value = getattr(res, name)
                if not (math.isfinite(value) and value >= 0):
                    return ApiOutcome("failure", f"accepted, but simulate gives {name} = "
                                                 f"{value!r}")
    except ValueError as exc:  # ConfigError, WorkloadError
        return _classify_error(exc, "fuzz.yaml")
    except Exception as exc:  # noqa: BLE001 - classified
        return ApiOutcome("failure", f"{type(exc).__name__}: {str(exc)[:300]}")
    return ApiOutcome("ok")
