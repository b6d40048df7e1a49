"""SCALE-Sim 3.0.0 configuration files (.cfg, INI format) as a frozen dataclass.

Only the fields that change SCALE-Sim's reports are kept. The ``[layout]`` section and
``UseRamulatorTrace`` are read by SCALE-Sim but do not change its reports in CALC bandwidth
mode, so they are ignored here; ``[sparsity] SparsitySupport = true`` is refused because it
changes the report format and pysim does not model it.
"""

from __future__ import annotations

import configparser
import warnings
from dataclasses import dataclass
from pathlib import Path

from pysim.errors import ConfigError

ARCH = "architecture_presets"
DATAFLOWS = ("os", "ws", "is")
BANDWIDTH_MODES = ("CALC", "USER")
MAX_DIM = 4096
WORD_BYTES = 1  # SCALE-Sim hard-codes 1-byte words

# SCALE-Sim's defaults (scale_config.__init__) for the optional fields.
DEFAULT_OFFSETS = {"IfmapOffset": 0, "FilterOffset": 10000000, "OfmapOffset": 20000000}
DEFAULT_RUN_NAME = "scale_run"
# dataclass field -> the .cfg key it comes from (for error messages)
CFG_KEYS = {
    "rows": "ArrayHeight",
    "cols": "ArrayWidth",
    "ifmap_sram_kb": "ifmapsramszkB",
    "filter_sram_kb": "filtersramszkB",
    "ofmap_sram_kb": "ofmapsramszkB",
    "ifmap_offset": "IfmapOffset",
    "filter_offset": "FilterOffset",
    "ofmap_offset": "OfmapOffset",
}

USER_BANDWIDTH_WARNING = (
    "InterfaceBandwidth = USER: pysim reports SCALE-Sim's CALC-mode figures (stall-free, "
    "DRAM traffic estimated from the SRAM sizes); the Bandwidth values are checked but not used"
)
_warned_user_mode = False


@dataclass(frozen=True)
class ScaleSimConfig:
    """One SCALE-Sim run configuration. Sizes are in kB (1 kB = 1024 one-byte words)."""

    rows: int
    cols: int
    ifmap_sram_kb: int
    filter_sram_kb: int
    ofmap_sram_kb: int
    dataflow: str = "os"
    ifmap_offset: int = DEFAULT_OFFSETS["IfmapOffset"]
    filter_offset: int = DEFAULT_OFFSETS["FilterOffset"]
    ofmap_offset: int = DEFAULT_OFFSETS["OfmapOffset"]
    bandwidth_mode: str = "CALC"
    bandwidths: tuple[int, ...] = ()
    run_name: str = DEFAULT_RUN_NAME
    source: str = "<config>"

    def __post_init__(self) -> None:
        where = self.source
        for field in ("rows", "cols"):
            _check_int_range(where, ARCH, field, getattr(self, field), 1, MAX_DIM)
        for field in ("ifmap_sram_kb", "filter_sram_kb", "ofmap_sram_kb"):
            _check_int_range(where, ARCH, field, getattr(self, field), 1, None)
        for field in ("ifmap_offset", "filter_offset", "ofmap_offset"):
            _check_int_range(where, ARCH, field, getattr(self, field), 0, None)
        dataflow = str(self.dataflow).strip().lower()
        if dataflow not in DATAFLOWS:
            raise ConfigError(
                f"{where}: [{ARCH}] Dataflow = {self.dataflow!r} is not allowed; "
                f"use one of {', '.join(DATAFLOWS)}"
            )
        object.__setattr__(self, "dataflow", dataflow)
        mode = str(self.bandwidth_mode).strip().upper()
        if mode not in BANDWIDTH_MODES:
            raise ConfigError(
                f"{where}: [run_presets] InterfaceBandwidth = {self.bandwidth_mode!r} is not "
                f"allowed; use CALC or USER"
            )
        object.__setattr__(self, "bandwidth_mode", mode)
        if mode == "USER" and not self.bandwidths:
            raise ConfigError(
                f"{where}: [{ARCH}] Bandwidth is required when InterfaceBandwidth = USER "
                f"(a comma-separated list of positive integers, e.g. 'Bandwidth = 10')"
            )

    @property
    def sram_words(self) -> tuple[int, int, int]:
        """(ifmap, filter, ofmap) SRAM sizes in words."""
        words = 1024 // WORD_BYTES
        return (self.ifmap_sram_kb * words, self.filter_sram_kb * words, self.ofmap_sram_kb * words)


def _check_int_range(
    where: str, section: str, field: str, value: object, lo: int, hi: int | None
) -> None:
    key = CFG_KEYS.get(field, field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: [{section}] {key} = {value!r} is not an integer")
    if value < lo or (hi is not None and value > hi):
        allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(
            f"{where}: [{section}] {key} = {value} is out of range; allowed: {allowed}"
        )


def _get(cp: configparser.ConfigParser, where: str, section: str, key: str) -> str:
    if not cp.has_section(section):
        raise ConfigError(f"{where}: missing section [{section}] (needed for {key})")
    if not cp.has_option(section, key):
        raise ConfigError(f"{where}: [{section}] is missing the field {key}")
    return cp.get(section, key).strip()


def _get_int(cp: configparser.ConfigParser, where: str, section: str, key: str) -> int:
    raw = _get(cp, where, section, key)
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"{where}: [{section}] {key} = {raw!r} is not an integer; "
            f"SCALE-Sim needs a whole number here"
        ) from None


def load_config(path: str | Path, warn: bool = True) -> ScaleSimConfig:
    """Parse a SCALE-Sim .cfg file. Raises ConfigError naming the file, section, field and
    value on bad input. With ``warn``, USER bandwidth mode gives a UserWarning (once per
    process) saying that the CALC-mode figures are reported."""
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise ConfigError(f"{where}: config file not found")
    cp = configparser.ConfigParser(interpolation=None)
    try:
        with p.open(encoding="utf-8") as fh:
            cp.read_file(fh)
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not a valid SCALE-Sim .cfg (INI) file: {first}") from None

    ints = {
        key: _get_int(cp, where, ARCH, key)
        for key in (
            "ArrayHeight",
            "ArrayWidth",
            "ifmapsramszkB",
            "filtersramszkB",
            "ofmapsramszkB",
        )
    }
    offsets = {
        key: _get_int(cp, where, ARCH, key) if cp.has_option(ARCH, key) else default
        for key, default in DEFAULT_OFFSETS.items()
    }
    dataflow = _get(cp, where, ARCH, "Dataflow")
    mode = "CALC"
    if cp.has_option("run_presets", "InterfaceBandwidth"):
        mode = cp.get("run_presets", "InterfaceBandwidth").strip()
    bandwidths: tuple[int, ...] = ()
    if mode.upper() == "USER" and cp.has_option(ARCH, "Bandwidth"):
        raw = cp.get(ARCH, "Bandwidth").strip()
        try:
            bandwidths = tuple(int(x) for x in raw.split(",") if x.strip())
        except ValueError:
            raise ConfigError(
                f"{where}: [{ARCH}] Bandwidth = {raw!r} is not a comma-separated list of integers"
            ) from None
        if any(b < 1 for b in bandwidths):
            raise ConfigError(f"{where}: [{ARCH}] Bandwidth = {raw!r}: values must be >= 1")
    if cp.has_option("sparsity", "SparsitySupport"):
        sparse = cp.get("sparsity", "SparsitySupport").strip()
        if sparse.lower() == "true":
            raise ConfigError(
                f"{where}: [sparsity] SparsitySupport = {sparse} is not supported by pysim; "
                f"set it to false"
            )
    run_name = DEFAULT_RUN_NAME
    if cp.has_option("general", "run_name"):
        run_name = cp.get("general", "run_name").strip()
    cfg = ScaleSimConfig(
        rows=ints["ArrayHeight"],
        cols=ints["ArrayWidth"],
        ifmap_sram_kb=ints["ifmapsramszkB"],
        filter_sram_kb=ints["filtersramszkB"],
        ofmap_sram_kb=ints["ofmapsramszkB"],
        dataflow=dataflow,
        ifmap_offset=offsets["IfmapOffset"],
        filter_offset=offsets["FilterOffset"],
        ofmap_offset=offsets["OfmapOffset"],
        bandwidth_mode=mode,
        bandwidths=bandwidths,
        run_name=run_name,
        source=where,
    )
    if warn and cfg.bandwidth_mode == "USER":
        warn_user_mode()
    return cfg


def warn_user_mode() -> None:
    """Warn, once per process, that USER bandwidth mode is reported as CALC mode."""
    global _warned_user_mode
    if not _warned_user_mode:
        _warned_user_mode = True
        warnings.warn(USER_BANDWIDTH_WARNING, UserWarning, stacklevel=3)
