"""Checkpointing of sweep rows: an append-only journal beside the output, folded into one
Parquet file at the end.

For ``out="runs.parquet"``:

- each finished point is appended as one JSON line to ``runs.parquet.journal`` and flushed
  (so a killed run loses no finished point: the line is in the OS's hands the moment the point
  is done; a line torn by the kill is skipped when read back);
- when the sweep ends (or is interrupted by an exception), the rows of ``runs.parquet`` (if
  any) and of the journal are written to ``runs.parquet.tmp-<pid>`` and moved over
  ``runs.parquet`` with ``os.replace`` (atomic), then the journal is removed;
- a new run reads both and computes only the points (``point_id``) it does not find.

A file holds one or more sweeps: each row carries its sweep's ``sweep_id`` and ``sweep_space``
(the JSON description of that sweep's space), and rows are keyed by (``sweep_id``,
``point_id``). Rows of other sweeps written to the same file are kept in it (the sweep returns
only its own rows); a point two sweeps share is one row per sweep.

Safety: one sweep at a time per file, enforced by an exclusive lock on ``runs.parquet.lock``
(``flock``, released when the sweep ends or its process dies; the small lock file stays; a
second sweep on the path is refused with a message naming the holder's pid); temporary files
left by a killed writer are removed under the lock; the journal and the temporary file are
never opened through a symbolic link; the Parquet file is fsynced before the rename, and the
folder after it.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows

RowKey = tuple[str | None, str]
"""A stored row's key: its sweep's id (None in a file written before sweeps had ids) and its
point_id."""


def row_key(row: dict[str, Any]) -> RowKey:
    """The (sweep_id, point_id) of a stored row."""
    sweep_id = row.get("sweep_id")
    return (sweep_id if isinstance(sweep_id, str) else None, str(row["point_id"]))


def _open_nofollow(path: Path, flags: int, what: str) -> int:
    """``os.open`` that refuses a symbolic link at ``path``."""
    try:
        return os.open(path, flags | NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise ValueError(f"out: {what} {path} is a symbolic link; pysim does not write "
                             "through one (remove it or pass another path)") from None
        raise


class Checkpoint:
    """The journal and Parquet file of one output path, held under its lock until ``close``."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.journal = self.path.with_name(self.path.name + ".journal")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._fh: IO[str] | None = None
        self._lock_fd: int | None = None
        if self.path.exists() and self.path.is_dir():
            raise ValueError(f"out must be a file path, {self.path} is a directory")
        if not self.path.parent.is_dir():
            raise ValueError(f"out: folder {self.path.parent} does not exist")
        self._lock()
        for stale in self.path.parent.glob(f"{self.path.name}.tmp-*"):
            stale.unlink(missing_ok=True)  # a killed writer's: we hold the lock

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock
            return
        fd = _open_nofollow(self.lock_path, os.O_RDWR | os.O_CREAT, "lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ValueError(f"out: {self.path} is being written by another sweep (pid "
                             f"{holder}); wait for it to finish or pass another path") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def release(self) -> None:
        """Give up the lock (``close`` does; a dead process's lock goes with it). The lock
        file stays: removing it would let a waiting sweep lock an orphaned copy."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __del__(self) -> None:
        self.release()

    def load(self) -> dict[RowKey, dict[str, Any]]:
        """Rows already computed, by ``row_key``: the Parquet file's, then the journal's."""
        import pandas as pd

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
                plain = _plain(record)
                rows[row_key(plain)] = plain
        if self.journal.is_symlink():
            raise ValueError(f"out: journal {self.journal} is a symbolic link; pysim does not "
                             "read through one (remove it or pass another path)")
        if self.journal.exists():
            with open(self.journal, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line torn by a kill
                    if isinstance(record, dict) and "point_id" in record:
                        rows[row_key(record)] = record
        return rows

    def append(self, row: dict[str, Any]) -> None:
        """Append one finished row to the journal and flush it."""
        if self._fh is None:
            torn = _ends_torn(self.journal)
            fd = _open_nofollow(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "journal")
            self._fh = open(fd, "a", encoding="utf-8")  # noqa: SIM115 - kept open
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
            import pandas as pd

            table = pd.concat([frame, pd.DataFrame(others)], ignore_index=True)
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        try:
            fd = _open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, "temporary file")
            with open(fd, "wb") as fh:
                table.to_parquet(fh, index=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        finally:
            if tmp.exists() or tmp.is_symlink():
                tmp.unlink()
        if self.journal.exists():
            self.journal.unlink()
        self.release()


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


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
        if value is _pandas().NA:
            value = None
        out[key] = value
    return out


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to the journal")


def _pandas():  # noqa: ANN202 - the module, loaded on first use
    import pandas as pd

    return pd
