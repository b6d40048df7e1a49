"""Checkpointing of sweep rows: an append-only journal beside the output, folded into one
Parquet file at the end.

For ``out="runs.parquet"``:

- each finished point is appended as one JSON line to ``runs.parquet.journal`` and flushed
  (so a killed run loses no finished point: the line is in the OS's hands the moment the point
  is done; a line torn by the kill is skipped when read back);
- when the sweep ends (or is interrupted by an exception), the rows of ``runs.parquet`` (if
  any) and of the journal are written to ``runs.parquet.tmp-<pid>`` and moved over
  ``runs.parquet`` with ``os.replace`` (atomic), then the journal is removed;
- a new run reads both, keyed by ``point_id``, and computes only the points it does not find.

The Parquet file is a cache keyed by ``point_id``: rows of other sweeps written to the same
file are kept in it (the sweep returns only its own rows). One sweep at a time per file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pandas as pd


class Checkpoint:
    """The journal and Parquet file of one output path."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.journal = self.path.with_name(self.path.name + ".journal")
        self._fh: IO[str] | None = None
        if self.path.exists() and self.path.is_dir():
            raise ValueError(f"out must be a file path, {self.path} is a directory")
        if not self.path.parent.is_dir():
            raise ValueError(f"out: folder {self.path.parent} does not exist")

    def load(self) -> dict[str, dict[str, Any]]:
        """Rows already computed, by point_id: the Parquet file's, then the journal's."""
        rows: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                frame = pd.read_parquet(self.path)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
                raise ValueError(f"out: {self.path} exists but is not a readable Parquet file "
                                 f"({exc}); move it away or pass another path") from None
            if "point_id" not in frame.columns:
                raise ValueError(f"out: {self.path} has no point_id column: it was not "
                                 f"written by pysim.sweep; move it away or pass another path")
            for record in frame.to_dict("records"):
                rows[str(record["point_id"])] = _plain(record)
        if self.journal.exists():
            with open(self.journal, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line torn by a kill
                    if isinstance(record, dict) and "point_id" in record:
                        rows[str(record["point_id"])] = record
        return rows

    def append(self, row: dict[str, Any]) -> None:
        """Append one finished row to the journal and flush it."""
        if self._fh is None:
            torn = _ends_torn(self.journal)
            self._fh = open(self.journal, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            if torn:
                self._fh.write("\n")
        self._fh.write(json.dumps(row, default=_json_default) + "\n")
        self._fh.flush()

    def close(self, frame: pd.DataFrame, others: Iterable[dict[str, Any]] = ()) -> None:
        """Write ``frame`` (this sweep's rows) and ``others`` (rows of other sweeps found in
        the file) to the Parquet file atomically, then remove the journal."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        others = list(others)
        table = frame
        if others:
            table = pd.concat([frame, pd.DataFrame(others)], ignore_index=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            table.to_parquet(tmp, index=False)
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()
        if self.journal.exists():
            self.journal.unlink()


def _ends_torn(path: Path) -> bool:
    """True if ``path`` exists, is not empty and does not end with a newline."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """Parquet values back to plain Python (numpy scalars to int/float/bool, NA to None)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if hasattr(value, "item"):
            value = value.item()
        if value is pd.NA:
            value = None
        out[key] = value
    return out


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to the journal")
