"""Hardware descriptions: validated, immutable pydantic models loaded from YAML, the DRAM
presets and the per-action energy table. Schema and sources: docs/hardware_config.md."""

from pysim.config.dram_presets import DRAM_PRESETS, DramPreset
from pysim.config.energy_table import BUILTIN_TABLES, EnergyTable, load_energy_table, vdd_at
from pysim.config.hardware import EnergyConfig, Hardware, Interconnect
from pysim.config.host import LINKS, HostLink
from pysim.config.loader import hardware_from_dict, load_hardware
from pysim.config.memory import OPERANDS, Dram, Scratchpad
from pysim.config.units import UNIT_KINDS, SystolicArrayUnit, Unit, VectorUnit

__all__ = [
    "BUILTIN_TABLES",
    "DRAM_PRESETS",
    "OPERANDS",
    "UNIT_KINDS",
    "Dram",
    "DramPreset",
    "EnergyConfig",
    "EnergyTable",
    "Hardware",
    "HostLink",
    "Interconnect",
    "LINKS",
    "Scratchpad",
    "SystolicArrayUnit",
    "Unit",
    "VectorUnit",
    "hardware_from_dict",
    "load_energy_table",
    "load_hardware",
    "vdd_at",
]
