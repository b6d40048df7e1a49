"""Writes the malformed-input corpus in this folder (run from anywhere; deterministic).

Each file is one bad input; expected.yaml gives, for each, what it is (hardware, workload,
onnx, scalesim_cfg, scalesim_topology, serving trace, space) and a fragment its error message
must hold.
tests/test_bad_input_corpus.py runs each through the API and the CLI."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]



EDGE = (ROOT / "configs" / "edge_npu.yaml").read_text()
TINY = (ROOT / "workloads" / "tiny_cnn.yaml").read_text()
GEMM = ("name: g\ninputs:\n  - {name: a, shape: [64, 32], bits: 8}\nops:\n"
        "  - {name: mm, type: gemm, inputs: [a], m: 64, n: 16, k: 32}\n")
CFG = (ROOT / "configs" / "scalesim" / "scale.cfg").read_text()
TOPO_HEAD = "Layer, M, N, K,\n"
TRACE_HEAD = "arrival_s,prompt_tokens,output_tokens\n"
CONV_HEAD = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
             "Num Filter, Strides,\n")


def text_cases() -> dict[str, str | bytes]:
    return {
        # hardware
        "hw_invalid_yaml.yaml": "name: [unclosed\nclock_ghz: 1.0\n",
        "hw_empty.yaml": "",
        "hw_scalar.yaml": "42\n",
        "hw_top_level_list.yaml": "- name: a\n- name: b\n",
        "hw_nul_byte.yaml": EDGE + "\x00\n",
        "hw_binary.yaml": bytes(range(256)) * 4,
        "hw_tab_indent.yaml": EDGE.replace("  - kind: systolic_array", "\t- kind: systolic_array"),
        "hw_duplicate_key.yaml": EDGE.replace("clock_ghz: 1.0", "clock_ghz: 1.0\nclock_ghz: 2.0"),
        "hw_unknown_field.yaml": EDGE + "turbo_mode: true\n",
        "hw_unknown_unit_kind.yaml": EDGE.replace("kind: systolic_array", "kind: quantum_array"),
        "hw_rows_negative.yaml": EDGE.replace("rows: 32", "rows: -32"),
        "hw_rows_string.yaml": EDGE.replace("rows: 32", "rows: many"),
        "hw_rows_float.yaml": EDGE.replace("rows: 32", "rows: 32.5"),
        "hw_rows_huge.yaml": EDGE.replace("rows: 32", "rows: 100000000000000000000"),
        "hw_clock_nan.yaml": EDGE.replace("clock_ghz: 1.0", "clock_ghz: .nan"),
        "hw_clock_inf.yaml": EDGE.replace("clock_ghz: 1.0", "clock_ghz: .inf"),
        "hw_clock_zero.yaml": EDGE.replace("clock_ghz: 1.0", "clock_ghz: 0"),
        "hw_size_overflow.yaml": EDGE.replace("size_kib: 512", "size_kib: 1.0e+400"),
        "hw_banks_zero.yaml": EDGE.replace("banks: 16", "banks: 0"),
        "hw_dram_preset_unknown.yaml": EDGE.replace("preset: lpddr4_3200", "preset: ddr9_99999"),
        "hw_no_units.yaml": EDGE.split("units:")[0] + EDGE[EDGE.index("vector:"):],
        "hw_energy_table_missing.yaml": EDGE.replace("table: 45nm", "table: no_such_table.yaml"),
        "hw_truncated.yaml": EDGE[: len(EDGE) // 2],
        "hw_deep.yaml": "name: " + "[" * 50_000 + "]" * 50_000 + "\n",
        # workloads
        "wl_invalid_yaml.yaml": "name: w\nops: [\n",
        "wl_empty.yaml": "",
        "wl_cycle.yaml": GEMM + "  - {name: b, type: gemm, inputs: [c], m: 64, n: 16, k: 16}\n"
                                "  - {name: c, type: gemm, inputs: [b], m: 64, n: 16, k: 16}\n",
        "wl_self_loop.yaml": GEMM.replace("inputs: [a], m", "inputs: [mm], m"),
        "wl_dangling_input.yaml": GEMM.replace("inputs: [a], m", "inputs: [ghost], m"),
        "wl_duplicate_op.yaml": GEMM + "  - {name: mm, type: gemm, inputs: [a], m: 64, n: 16, "
                                       "k: 32}\n",
        "wl_duplicate_key.yaml": GEMM.replace("name: g\n", "name: g\nname: h\n"),
        "wl_unknown_op_type.yaml": GEMM.replace("type: gemm", "type: teleport"),
        "wl_unknown_field.yaml": GEMM.replace("k: 32}", "k: 32, colour: blue}"),
        "wl_negative_dim.yaml": GEMM.replace("m: 64", "m: -64"),
        "wl_zero_dim.yaml": GEMM.replace("n: 16", "n: 0"),
        "wl_huge_dim.yaml": GEMM.replace("m: 64", "m: 100000000000000000000"),
        "wl_nan_shape.yaml": GEMM.replace("shape: [64, 32]", "shape: [64, .nan]"),
        "wl_string_dim.yaml": GEMM.replace("k: 32", "k: thirty-two"),
        "wl_bits_zero.yaml": GEMM.replace("bits: 8", "bits: 0"),
        "wl_ops_not_list.yaml": "name: w\ninputs: []\nops: {a: 1}\n",
        "wl_no_ops.yaml": "name: w\ninputs:\n  - {name: a, shape: [4, 4], bits: 8}\nops: []\n",
        "wl_truncated.yaml": TINY[: len(TINY) * 2 // 3],
        # SCALE-Sim configs (run with a good GEMM topology)
        "cfg_garbage.cfg": "this is not an ini file\n\x01\x02\n",
        "cfg_empty.cfg": "",
        "cfg_missing_section.cfg": CFG.split("[architecture_presets]")[0],
        "cfg_array_zero.cfg": CFG.replace("ArrayHeight = 32", "ArrayHeight = 0"),
        "cfg_array_text.cfg": CFG.replace("ArrayHeight = 32", "ArrayHeight = tall"),
        "cfg_array_huge.cfg": CFG.replace("ArrayWidth = 32", "ArrayWidth = 100000000000000000000"),
        "cfg_dataflow_unknown.cfg": CFG.replace("Dataflow = os", "Dataflow = xy"),
        "cfg_sram_negative.cfg": CFG.replace("ifmapsramszkB = 2048", "ifmapsramszkB = -1"),
        "cfg_sram_nan.cfg": CFG.replace("ifmapsramszkB = 2048", "ifmapsramszkB = nan"),
        # SCALE-Sim topologies (run with the shipped config)
        "topo_dim_1e20.csv": TOPO_HEAD + "big, 100000000000000000000, 16, 16,\n",
        "topo_fold_storm.csv": TOPO_HEAD + "big, 100000000, 100000000, 1,\n",
        "topo_negative.csv": TOPO_HEAD + "neg, -16, 16, 16,\n",
        "topo_zero.csv": TOPO_HEAD + "zero, 16, 0, 16,\n",
        "topo_text.csv": TOPO_HEAD + "txt, sixteen, 16, 16,\n",
        "topo_float.csv": TOPO_HEAD + "flt, 16.5, 16, 16,\n",
        "topo_nan.csv": TOPO_HEAD + "nan, nan, 16, 16,\n",
        "topo_short_row.csv": TOPO_HEAD + "short, 16, 16\n",
        "topo_empty.csv": "",
        "topo_header_only.csv": TOPO_HEAD,
        "topo_binary.csv": b"\xff\xfe\x00\x01" * 64,
        "conv_filter_too_big.csv": CONV_HEAD + "c1, 8, 8, 9, 9, 3, 16, 1,\n",
        "conv_stride_zero.csv": CONV_HEAD + "c1, 32, 32, 3, 3, 3, 16, 0,\n",
        # serving traces (pysim serve gpu:a100 llama2_7b --trace FILE)
        "trace_negative_prompt.csv": TRACE_HEAD + "0.0,128,32\n0.05,-512,16\n",
        "trace_missing_field.jsonl": ('{"arrival_s": 0.0, "prompt_tokens": 128, '
                                      '"output_tokens": 32}\n'
                                      '{"arrival_s": 0.05, "prompt_tokens": 512}\n'),
        "trace_missing_column.csv": "arrival_s,prompt_tokens\n0.0,128\n",
        "trace_nan_arrival.csv": TRACE_HEAD + "0.0,128,32\nnan,512,16\n",
        "trace_not_json.jsonl": '{"arrival_s": 0.0, "prompt_tokens": 128, "output_tokens"\n',
        "trace_prompt_too_long.csv": TRACE_HEAD + "0.0,128,32\n0.05,100000,16\n",
        "trace_binary.csv": b"\xff\xfe\x00\x01" * 64,
        # sweep spaces (run with edge_npu and tiny_cnn)
        "space_not_mapping.yaml": "- units.0.rows\n",
        "space_empty_list.yaml": "units.0.rows: []\n",
        "space_unknown_path.yaml": "units.0.warp_drive: [1, 2]\n",
    }


def onnx_cases() -> dict[str, bytes]:
    import onnx
    from onnx import TensorProto, helper

    def conv_model(opset: int = 13, dilations: list[int] | None = None, in_c: int = 3,
                   w_c: int = 3, dangling: bool = False) -> bytes:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, in_c, 16, 16])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        w = helper.make_tensor("w", TensorProto.FLOAT, [8, w_c, 3, 3], [0.1] * (8 * w_c * 9))
        attrs = {"dilations": dilations} if dilations else {}
        node = helper.make_node("Conv", ["ghost" if dangling else "x", "w"], ["y"], **attrs)
        graph = helper.make_graph([node], "g", [x], [y], [w])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        return model.SerializeToString()

    good = conv_model()
    assert onnx.load_from_string(good) is not None
    return {
        "onnx_empty.onnx": b"",
        "onnx_text.onnx": b"this is not a protobuf\n",
        "onnx_garbage.onnx": bytes((i * 7919 + 13) % 256 for i in range(2048)),
        "onnx_truncated.onnx": good[: len(good) // 2],
        "onnx_opset_999.onnx": conv_model(opset=999),
        "onnx_huge_dilation.onnx": conv_model(dilations=[10**9, 10**9]),
        "onnx_channel_mismatch.onnx": conv_model(in_c=3, w_c=5),
        "onnx_dangling_input.onnx": conv_model(dangling=True),
    }


def main() -> None:
    for name, content in {**text_cases(), **onnx_cases()}.items():
        path = HERE / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


if __name__ == "__main__":
    main()
