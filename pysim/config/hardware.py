"""The hardware description: compute units, vector unit, scratchpads, DRAM, clock, technology
node and energy table, as one validated, immutable pydantic model.

Load one with ``pysim.config.load_hardware(path)``; the YAML schema is in
docs/hardware_config.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pysim.config.energy_table import (
    MAX_NODE_NM,
    MIN_NODE_NM,
    EnergyTable,
    load_energy_table,
)
from pysim.config.host import HostLink
from pysim.config.memory import OPERANDS, Dram, Scratchpad
from pysim.config.quantities import BandwidthGBps, Float
from pysim.config.units import Unit, VectorUnit
from pysim.config.yaml_io import FieldError
from pysim.errors import ConfigError


class EnergyConfig(BaseModel):
    """``table``: a built-in table name ("45nm") or the path of a YAML table (relative paths
    resolve against the hardware YAML's folder when loaded from a file, else the working
    directory). ``overrides``: entry name -> value in the entry's unit, replacing the table's
    number after it is scaled to the hardware's technology node.

    Two run-level overheads that no action count prices (both 0 unless the file sets them):
    ``clock_pj_per_cycle``, the clock network's energy per cycle (C_clocked x Vdd^2: the
    H-tree and every clocked flip-flop and SRAM periphery it drives), paid every cycle of the
    run whatever the datapath does (zero gating does not stop it), and ``control_fraction``,
    the share of the on-chip energy spent by control logic and the on-chip network besides
    the clock, so ``control = f / (1 - f) x (on-chip dynamic + clock)``. Both after CNNergy
    (Manasi, Snigdha, Sapatnekar, "NeuPart", IEEE TVLSI 2020), which models Eyeriss's clock
    tree (106.3 mW at 200 MHz, 65 nm, 1 V) and 15 % other control that way."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str = "45nm"
    overrides: dict[str, Float] = Field(default_factory=dict)
    clock_pj_per_cycle: Float = Field(default=0.0, ge=0.0, le=1e9)
    control_fraction: Float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _table_loads(self) -> EnergyConfig:
        try:
            table = load_energy_table(self.table)
        except ConfigError as exc:
            raise FieldError("table", self.table, f"cannot be loaded: {exc}") from None
        for key, value in self.overrides.items():
            if key not in table.entries:
                known = sorted(table.entries)
                raise FieldError(f"overrides.{key}", value,
                                 f"is not an entry of the energy table; known: {known}")
            if value < 0:
                raise FieldError(f"overrides.{key}", value, "must be >= 0")
        return self

    def load_table(self) -> EnergyTable:
        """The table as given (not scaled, no overrides)."""
        return load_energy_table(self.table)


class MapperConfig(BaseModel):
    """How the mapper chooses each op's tiling: ``objective`` latency (default: the op's
    cycles as the engine runs it), energy, edp, or traffic (DRAM bytes only, the objective
    before issue 11; kept for comparison); and inter-layer reuse: ``residency``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    objective: Literal["latency", "energy", "edp", "traffic"] = "latency"
    # Which op outputs stay in the kept quarter of the input scratchpad between their uses:
    # "planned" (a keep / drop plan within 0.1 % of optimal or the root node's,
    # pysim/mapping/planned_residency.py; the best online rule where the solver finds no better
    # plan, or none within ``residency_time_limit_s``, a cap for solves too slow to reach
    # either, which then depend on the machine's speed) or an online rule
    # (pysim/mapping/residency.py): kept after
    # their producer, evicted oldest first ("fifo": the rule before issue 13), least recently
    # used first ("lru") or read again furthest in the future first ("belady").
    residency: Literal["fifo", "lru", "belady", "planned"] = "planned"
    residency_time_limit_s: Float = Field(default=10.0, gt=0, le=3600)


class Interconnect(BaseModel):
    """The link between this device and its peers in a multi-device group (NVLink on a GPU):
    ``bandwidth_gb_per_s`` is what one device sends per direction while it receives as much
    (GB/s, 1e9 B/s: half of NVIDIA's bidirectional NVLink figure), ``latency_us`` the time of
    one step of a ring collective, ``call_overhead_us`` the fixed cost of one collective call
    (kernel launch and protocol set-up, paid once per call whatever the ring length; default
    0). Used by tensor / pipeline parallelism in pysim.serving
    (docs/serving.md); a single-device simulation ignores it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bandwidth_gb_per_s: BandwidthGBps = Field(gt=0)
    latency_us: Float = Field(default=0.0, ge=0, le=1e6)
    call_overhead_us: Float = Field(default=0.0, ge=0, le=1e6)
    # "ring": one protocol, ``latency_us`` per ring step; "nccl": NCCL's cost model, the
    # fastest of its protocols per call over ``link`` (pysim/interconnect.py)
    collectives: Literal["ring", "nccl"] = "ring"
    link: Literal["nvlink", "pci"] = "nvlink"

    @model_validator(mode="after")
    def _latency_belongs_to_ring(self) -> Interconnect:
        if self.collectives == "nccl" and self.latency_us:
            raise FieldError("latency_us", self.latency_us,
                             "applies to collectives: ring; with collectives: nccl each "
                             "protocol's step latency comes from NCCL's model (leave it 0)")
        return self


SOURCE_KEY = "_pysim_source"  # Hardware.__dict__ key of its origin (loader.hardware_from_dict)


class Hardware(BaseModel):
    """A whole accelerator; every field is documented in docs/hardware_config.md.

    ``clock_ghz`` > 0; ``technology_nm`` in 3..180 (energies are scaled to it); ``units`` the
    compute units (``kind`` picks the model); ``vector`` the vector unit; ``scratchpads``
    on-chip buffers that together hold input, weight and output exactly once; ``dram`` the
    off-chip memory; ``energy`` the energy table and its overrides.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    clock_ghz: Float = Field(gt=0, le=100)
    technology_nm: Float = Field(default=45.0, ge=MIN_NODE_NM, le=MAX_NODE_NM)
    units: tuple[Unit, ...] = Field(min_length=1)
    vector: VectorUnit
    scratchpads: tuple[Scratchpad, ...] = Field(min_length=1)
    dram: Dram
    energy: EnergyConfig = Field(default_factory=EnergyConfig)
    # Which unit a MAC op runs on when several support it (pysim/mapping/planner.py,
    # `_pick_unit`, `_best_mapped`): the first listed, the one whose mapping finishes the op
    # first or spends the least, or where it ends first given when each unit is free.
    dispatch: Literal["first", "fastest", "lowest_energy", "earliest_finish"] = "first"
    mapper: MapperConfig = Field(default_factory=MapperConfig)
    # Optional: the device-to-device link (multi-device serving); None: a single device.
    interconnect: Interconnect | None = None
    # Optional: the link to host memory, and whether weights that do not fit the DRAM run
    # from there (pysim/config/host.py); None: no host memory is modelled.
    host: HostLink | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Hardware:
        for group in ("units", "scratchpads"):
            names = [item.name for item in getattr(self, group)]
            if len(set(names)) != len(names):
                raise FieldError(group, names, "must have unique names")
        by_name = {s.name: s for s in self.scratchpads}
        for i, s in enumerate(self.scratchpads):
            if s.backed_by is None:
                continue
            outer = by_name.get(s.backed_by)
            if outer is None or outer is s:
                others = sorted(n for n in by_name if n != s.name)
                raise FieldError(f"scratchpads.{i}.backed_by", s.backed_by,
                                 f"must name another scratchpad: one of {others}")
            missing = [r for r in s.holds if r not in outer.holds]
            if missing:
                raise FieldError(f"scratchpads.{i}.backed_by", s.backed_by,
                                 f"must hold what {s.name!r} holds; it lacks {missing}")
        owners = {role: [s.name for s in self.scratchpads if role in s.holds]
                  for role in OPERANDS}
        for role, names in owners.items():
            # one chain per operand: one innermost holder, every holder on its backed_by path
            if not names or len(self._chain(role)) != len(names):
                raise FieldError(
                    "scratchpads", {r: n for r, n in owners.items()},
                    "must together hold each of input, weight and output exactly once (`holds`: "
                    "one scratchpad per operand, or one unified buffer holding all three), or "
                    "in one chain of levels linked by `backed_by` (inner to outer)")
        return self

    def _chain(self, role: str) -> tuple[Scratchpad, ...]:
        holders = [s for s in self.scratchpads if role in s.holds]
        backing = {s.backed_by for s in holders}
        inner = [s for s in holders if s.name not in backing]
        if len(inner) != 1:
            return ()
        chain = [inner[0]]
        by_name = {s.name: s for s in holders}
        while chain[-1].backed_by is not None and chain[-1].backed_by in by_name:
            nxt = by_name[chain[-1].backed_by]
            if nxt in chain:
                return ()
            chain.append(nxt)
        return tuple(chain)

    # -- derived values ---------------------------------------------------------------------

    @property
    def clock_hz(self) -> float:
        return self.clock_ghz * 1e9

    def for_operand(self, role: str) -> Scratchpad:
        """The innermost scratchpad holding ``role`` ("input", "weight" or "output")."""
        return self.chain(role)[0]

    def chain(self, role: str) -> tuple[Scratchpad, ...]:
        """The scratchpads holding ``role``, innermost first (each ``backed_by`` the next)."""
        if role not in OPERANDS:
            raise ValueError(f"role must be one of {OPERANDS}, got {role!r}")
        return self._chains[role]

    @cached_property
    def _chains(self) -> dict[str, tuple[Scratchpad, ...]]:
        return {role: self._chain(role) for role in OPERANDS}

    def unit(self, name: str) -> Any:
        """The compute unit called ``name``. Raises KeyError listing the names."""
        for unit in self.units:
            if unit.name == name:
                return unit
        raise KeyError(f"no unit named {name!r}; units: {[u.name for u in self.units]}")

    @cached_property
    def energy_table(self) -> EnergyTable:
        """The energy table this hardware prices actions with: the configured table scaled
        to ``technology_nm``, then ``energy.overrides`` applied, then bound to the DRAM's
        ``energy_pj_per_bit``."""
        table = self.energy.load_table().scaled_to(self.technology_nm)
        return table.with_overrides(self.energy.overrides).bound_to_dram(
            self.dram.energy_pj_per_bit)

    @cached_property
    def scratchpad_pj_per_bit(self) -> dict[str, tuple[float, float]]:
        """Scratchpad name -> (read, write) pJ per bit (``read_pj`` / ``write_pj`` of a word
        over its bits), priced once: every op's energy and the tiling objective use them."""
        table = self.energy_table
        return {s.name: (s.read_pj(table) / s.word_bits, s.write_pj(table) / s.word_bits)
                for s in self.scratchpads}

    @property
    def sram_kib(self) -> float:
        """Total on-chip scratchpad capacity in KiB."""
        return sum(s.size_kib for s in self.scratchpads)

    def leakage_mw(self) -> float:
        """Static power (mW): all scratchpads plus all PEs of all units."""
        pes = sum(unit.pes for unit in self.units)
        return self.energy_table.leakage_mw(sram_kib=self.sram_kib, pes=pes)

    # -- dict views and overrides -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every field, resolved (DRAM preset values filled in), as plain YAML-able data
        (``interconnect`` and ``host`` only where the hardware has them)."""
        absent = {name for name in ("interconnect", "host") if getattr(self, name) is None}
        return self.model_dump(mode="json", exclude=absent or None)

    def flat_params(self) -> dict[str, Any]:
        """``to_dict()`` flattened to dotted paths (``units.0.rows``, ``dram.channels``);
        lists of plain values (``holds``, ``precisions``) stay tuples."""
        from pysim.config.overrides import flatten

        return flatten(self.to_dict())

    def with_overrides(self, overrides: Mapping[str, Any]) -> Hardware:
        """A new, validated Hardware with the dotted paths in ``overrides`` set, e.g.
        ``{"dram.bandwidth_gb_per_s": 12.8, "units.0.rows": 64}``. The result is what loading
        the YAML edited at those paths would give (a changed DRAM preset brings its own
        defaults for the fields the YAML did not set).

        Raises ConfigError for an unknown path (listing the valid keys at that level) or a
        value that does not validate.
        """
        from pysim.config.loader import hardware_from_dict
        from pysim.config.overrides import apply_overrides

        data = apply_overrides(self, overrides)
        keys = [repr(k) for k in overrides]
        shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        base = self.source.split(" with overrides ")[0]  # the file, not a chain of edits
        label = f"{base} with overrides {shown}"
        return hardware_from_dict(data, source=label)

    @property
    def source(self) -> str:
        """Where this description came from: its YAML path, "<dict>", or either "with
        overrides ..." (named in errors found after loading). Kept beside the fields, as a
        cached property is, so equal descriptions from different files compare equal."""
        return str(self.__dict__.get(SOURCE_KEY, "<dict>"))
