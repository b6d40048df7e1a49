"""Loading a hardware description from YAML (or a dict) into a validated ``Hardware``."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pysim.config.energy_table import BUILTIN_TABLES
from pysim.config.hardware import SOURCE_KEY, Hardware
from pysim.config.units import UNIT_KINDS
from pysim.config.yaml_io import format_validation_error, read_yaml_mapping
from pysim.errors import ConfigError


def load_hardware(path: str | PathLike[str]) -> Hardware:
    """The hardware described by the YAML file ``path`` (schema: docs/hardware_config.md).

    A relative ``energy.table`` path resolves against the YAML file's folder.
    Raises ConfigError naming the file, the field path (``units[0].rows``), the value and
    what is allowed, for a missing or malformed file or any invalid field.
    """
    data = read_yaml_mapping(path)
    energy = data.get("energy")
    if isinstance(energy, dict) and isinstance(energy.get("table"), str):
        table = energy["table"]
        if table.strip().lower() not in BUILTIN_TABLES and not Path(table).is_absolute():
            data["energy"] = {**energy, "table": str(Path(path).parent / table)}
    return hardware_from_dict(data, source=str(path))


def hardware_from_dict(data: dict[str, Any], source: str = "<dict>") -> Hardware:
    """The hardware described by ``data`` (the parsed YAML). ``source`` names the origin in
    error messages. Raises ConfigError as ``load_hardware`` does."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    try:
        hw = Hardware.model_validate(data)
    except ValidationError as err:
        raise format_validation_error(err, source, Hardware, data, tags=UNIT_KINDS) from None
    hw.__dict__[SOURCE_KEY] = source  # not a field: equality and hashing ignore it
    return hw
