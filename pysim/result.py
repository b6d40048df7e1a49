"""Result of a simulation: totals and one row per op, all traceable to counts x costs."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pysim.interconnect import CollectiveTiming
    from pysim.mapping.kept_area import KeptBlock
    from pysim.report.timeline import Timeline


def layers_frame(*, op: Sequence[str], type: Sequence[str], unit: Sequence[str],
                 dataflow: Sequence[str], start_cycle: Sequence[float],
                 end_cycle: Sequence[float], compute_cycles: Sequence[float],
                 stall_cycles: Sequence[float], macs: Sequence[int],
                 weight_bits: Sequence[int], act_bits: Sequence[int], dtype: Sequence[str],
                 vector_ops: Sequence[int], dram_read_bytes: Sequence[int],
                 dram_write_bytes: Sequence[int], compulsory_bytes: Sequence[int],
                 energy_pj: Sequence[Mapping[str, float]], bank_stall_cycles: Sequence[int],
                 port_stall_cycles: Sequence[int], steps: Sequence[int],
                 sim_events: Sequence[int], tiling: Sequence[str],
                 resident_inputs: Sequence[str], dram_row_hit_rate: Sequence[float],
                 mapping: Sequence[Any], host_read_bytes: Sequence[int],
                 peak_macs_per_cycle: Sequence[float]) -> pd.DataFrame:
    """``Result.layers``: one row per op (each argument one value per op, in op order), the
    derived columns (cycles, bit operations, energy in J per component and in total) computed
    here. Built column by column (a frame from a list of row dicts took 3 ms for a training
    step's 516 ops, a sixth of an A100 step's simulator time)."""
    import pandas as pd

    components = list(dict.fromkeys(c for e in energy_pj for c in e))
    cols: dict[str, Any] = {
        "op": list(op), "type": list(type), "unit": list(unit), "dataflow": list(dataflow),
        "start_cycle": list(start_cycle), "end_cycle": list(end_cycle),
        "cycles": [e - s for s, e in zip(start_cycle, end_cycle, strict=True)],
        "compute_cycles": list(compute_cycles), "bank_stall_cycles": list(bank_stall_cycles),
        "port_stall_cycles": list(port_stall_cycles), "stall_cycles": list(stall_cycles),
        "macs": list(macs), "peak_macs_per_cycle": list(peak_macs_per_cycle),
        "weight_bits": list(weight_bits), "act_bits": list(act_bits), "dtype": list(dtype),
        "bops": [m * w * a for m, w, a in zip(macs, weight_bits, act_bits, strict=True)],
        "vector_ops": list(vector_ops), "dram_read_bytes": list(dram_read_bytes),
        "dram_write_bytes": list(dram_write_bytes), "compulsory_bytes": list(compulsory_bytes),
        "host_read_bytes": list(host_read_bytes),
        "energy_j": [sum(e.values()) * 1e-12 for e in energy_pj],
    }
    for c in components:
        cols[f"{c}_j"] = [e[c] * 1e-12 if c in e else math.nan for e in energy_pj]
    cols.update({"steps": list(steps), "sim_events": list(sim_events), "tiling": list(tiling),
                 "resident_inputs": list(resident_inputs),
                 "dram_row_hit_rate": list(dram_row_hit_rate), "mapping": list(mapping)})
    return pd.DataFrame(cols)


@dataclass(frozen=True)
class Result:
    """Totals of one simulated workload on one hardware description.

    Latency in cycles and seconds; energy in joules, with ``energy_breakdown_j`` mapping each
    component (mac, register_file, sram, dram, vector, host; leakage, clock, control per run)
    to its share, which sum to ``energy_j``; off-chip traffic in bytes, with the compulsory part
    (first touch of each graph input and weight, last write of each graph output) split out;
    ``level_bytes`` the
    bytes read and written at each memory level (every scratchpad, and DRAM), and per level
    its transfers to and from other memories, ``in`` and ``out``, split into ``compulsory``
    and ``non_compulsory`` bytes (pysim/mapping/level_flows.py; DRAM's split is the run's
    compulsory bytes). ``layers`` has
    one row per op with the same quantities and the mapping that produced them.
    """

    hardware: str
    workload: str
    clock_hz: float
    latency_cycles: int
    energy_breakdown_j: dict[str, float]
    dram_read_bytes: int
    dram_write_bytes: int
    compulsory_dram_bytes: int
    macs: int
    layers: pd.DataFrame = field(repr=False, compare=False)
    sim_events: int = 0
    # bytes read and written at every memory level: each scratchpad by name, and "dram"
    level_bytes: dict[str, dict[str, int]] = field(default_factory=dict, compare=False)
    # the engine's steps, DMA transfers and stalls: simulate(hw, wl, trace=True), else None
    timeline: Timeline | None = field(default=None, repr=False, compare=False)
    # per tensor: (name, role, bytes, DRAM bytes read, written, compulsory), see ``tensors``
    tensor_traffic: tuple[tuple[str, str, int, int, int, int], ...] = field(
        default=(), repr=False, compare=False)
    # transfers on the device-to-device link, simulate(..., collectives=...): when each ran
    collectives: tuple[CollectiveTiming, ...] = field(default=(), repr=False, compare=False)
    # the op outputs kept on chip between ops, at their addresses: see ``kept_area``
    kept_blocks: tuple[KeptBlock, ...] = field(default=(), repr=False, compare=False)
    # weights copied in from host memory (hardware ``host.offload``): bytes, and each copy
    # (named "<op>.weights", its bytes, when it was ready, took the host link, left it)
    host_read_bytes: int = 0
    host_transfers: tuple[CollectiveTiming, ...] = field(default=(), repr=False,
                                                         compare=False)

    @property
    def tensors(self) -> pd.DataFrame:
        """One row per tensor that crossed DRAM: ``role`` (input, weight, activation),
        ``bytes`` (its size), ``dram_read_bytes`` / ``dram_write_bytes`` (every op's traffic
        of it: first reads, re-reads of tiles, partial-sum spills, the final write),
        ``compulsory_bytes`` (first touch of a graph input or weight, last write of a graph
        output) and ``non_compulsory_bytes`` (the rest: what a better mapping or scratchpad
        plan could save), largest non-compulsory first. Its sums are the result's totals."""
        import pandas as pd

        df = pd.DataFrame(list(self.tensor_traffic),
                          columns=["tensor", "role", "bytes", "dram_read_bytes",
                                   "dram_write_bytes", "compulsory_bytes"])
        df["non_compulsory_bytes"] = (df["dram_read_bytes"] + df["dram_write_bytes"]
                                      - df["compulsory_bytes"])
        return df.sort_values(["non_compulsory_bytes", "tensor"],
                              ascending=[False, True]).reset_index(drop=True)

    @property
    def kept_area(self) -> pd.DataFrame:
        """The op outputs kept on chip between ops (``mapper.residency: planned``), one row
        stay: ``tensor``, ``offset`` and ``bytes`` in the kept area (a quarter of the input
        scratchpad), and the ops it stays through, ``first_op`` (the one after its producer,
        or after the reader that reloaded it) to ``last_op`` (its last reader that finds it),
        with their step indices, ``spilled`` (readers after ``last_op`` read it from DRAM)
        and ``reloaded`` (the stay began with a reader's DRAM read, not its producer; a
        tensor may have several stays). Empty under
        FIFO (aggregate bytes, no addresses) and on GPUs. ``pysim.plot.memory(res)`` draws
        it."""
        import pandas as pd

        ops = list(self.layers["op"]) if "op" in self.layers else []
        return pd.DataFrame(
            [(b.tensor, b.offset, b.nbytes, ops[b.first_step] if ops else "",
              ops[b.last_step] if ops else "", b.first_step, b.last_step, b.spilled,
              b.reloaded)
             for b in self.kept_blocks],
            columns=["tensor", "offset", "bytes", "first_op", "last_op", "first_step",
                     "last_step", "spilled", "reloaded"])

    @property
    def latency_s(self) -> float:
        return self.latency_cycles / self.clock_hz

    @property
    def energy_j(self) -> float:
        return float(sum(self.energy_breakdown_j.values()))

    @property
    def dram_bytes(self) -> int:
        return self.dram_read_bytes + self.dram_write_bytes

    @property
    def edp(self) -> float:
        """Energy-delay product in J*s."""
        return self.energy_j * self.latency_s

    @property
    def bops(self) -> int:
        """Bit operations: MACs x weight bits x activation bits, summed over ops."""
        return int(self.layers["bops"].sum())

    @property
    def flop_equivalents(self) -> float:
        """FLOPs under the binary-network convention (Rastegari et al., XNOR-Net, 2016;
        Liu et al., Bi-Real Net, 2018): a float MAC counts 1, an integer MAC BOPs / 64 (so
        int8 x int8 counts 1 and a 1-bit x 4-bit MAC 1/16)."""
        L = self.layers
        is_float = L["dtype"] == "float"
        return float(L.loc[is_float, "macs"].sum() + L.loc[~is_float, "bops"].sum() / 64)

    @property
    def mac_share_by_precision(self) -> dict[str, float]:
        """Share of MACs at each (weight, activation) precision, keyed like "w4a8"."""
        L = self.layers[self.layers["macs"] > 0]
        if L.empty:
            return {}
        keys = "w" + L["weight_bits"].astype(str) + "a" + L["act_bits"].astype(str)
        shares = L.groupby(keys)["macs"].sum() / L["macs"].sum()
        return {k: float(v) for k, v in shares.sort_index().items()}

    @property
    def dram_row_hit_rate(self) -> float:
        """Byte-weighted row-buffer hit rate of all DRAM traffic (from the DRAM model); NaN
        when no DRAM model was run."""
        if self.layers["dram_row_hit_rate"].isna().all():
            return float("nan")  # no DRAM model behind this result (e.g. a GPU preset)
        moved = self.layers["dram_read_bytes"] + self.layers["dram_write_bytes"]
        total = moved.sum()
        return float((moved * self.layers["dram_row_hit_rate"]).sum() / total) if total else 0.0

    @property
    def utilization(self) -> float:
        """MACs done over MACs the MAC units could have done in the run's latency, each op's
        MACs at its unit's peak in the op's formats (the ``peak_macs_per_cycle`` column: an
        A100 does twice its fp16 MACs per clock in int8, a BISMO array four times its w8a8
        ones at w4a4): the units' ``unit_utilization`` weighted by their nominal peaks
        (``peak_macs_per_cycle`` of each unit config), so never above 1; where every op runs
        at its unit's nominal peak, MACs / (latency x the units' summed peaks)."""
        peaks = self.layers.attrs.get("unit_peaks", {})
        busy = self.unit_utilization
        total = sum(peaks.values())
        return sum(peaks[u] * busy[u] for u in busy) / total if busy and total else 0.0

    @property
    def unit_utilization(self) -> dict[str, float]:
        """Per MAC unit: the share of the run's latency it would take at its peak to do the
        MACs of the ops it ran, each at the peak for the op's formats (SCALE-Sim's and
        Timeloop's MACs / (PEs x cycles), per format); {} for a frame without per-op peaks."""
        peaks = self.layers.attrs.get("unit_peaks")
        layers = self.layers
        if not peaks or "peak_macs_per_cycle" not in layers or not self.latency_cycles:
            return {}
        on = layers[(layers["peak_macs_per_cycle"] > 0) & (layers["macs"] > 0)]
        busy = (on["macs"] / on["peak_macs_per_cycle"]).groupby(on["unit"]).sum()
        return {u: float(busy.get(u, 0.0)) / self.latency_cycles for u in peaks}

    def summary(self) -> dict[str, Any]:
        return {
            "hardware": self.hardware,
            "workload": self.workload,
            "latency_cycles": self.latency_cycles,
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "edp": self.edp,
            "macs": self.macs,
            "bops": self.bops,
            "flop_equivalents": self.flop_equivalents,
            "mac_share_by_precision": self.mac_share_by_precision,
            "utilization": self.utilization,
            "dram_read_bytes": self.dram_read_bytes,
            "dram_write_bytes": self.dram_write_bytes,
            "compulsory_dram_bytes": self.compulsory_dram_bytes,
            "host_read_bytes": self.host_read_bytes,
            "dram_row_hit_rate": self.dram_row_hit_rate,
            "energy_breakdown_j": dict(self.energy_breakdown_j),
            "sim_events": self.sim_events,
        }

    def to_dict(self) -> dict[str, Any]:
        out = self.summary()
        layers = self.layers
        if "mapping" in layers:  # typed mappings serialise as their one-line summary
            layers = layers.assign(mapping=[None if m is None else str(m)
                                            for m in layers["mapping"]])
        out["level_bytes"] = {k: dict(v) for k, v in self.level_bytes.items()}
        out["layers"] = json.loads(layers.to_json(orient="records"))
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_chrome_trace(self, path: str | PathLike) -> None:
        """Write the engine's timeline to ``path`` in the Trace Event Format (Perfetto,
        chrome://tracing): a track per unit or queue, DMA channel and the DRAM bus, each op a
        slice with its steps nested and stalls marked (pysim/report/trace.py). Raises
        ValueError if the result was simulated without ``trace=True``."""
        from pysim.report.trace import write_chrome_trace

        write_chrome_trace(self, path)

    def _repr_html_(self) -> str:
        """Compact notebook view: the totals and the longest ops."""
        from pysim.report.page import summary_html

        return summary_html(self)
