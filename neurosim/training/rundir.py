"""The run directory of ``neurosim train``: one writer at a time, nothing lost.

Guarantees (issue 12 §1):

* **One writer.** :meth:`RunDirectory.locked` holds an exclusive lock on
  ``<out>/.neurosim-run.lock`` (``fcntl.flock``; elsewhere an ``O_EXCL`` file checked
  against the holder's PID) for the whole run and releases it on any exit. A second
  ``neurosim train`` into the same directory is refused, naming the holder's PID,
  host and start time. The kernel drops the lock of a killed process; its lock file
  (holder's details still inside) is then *stale*: detected, reported with a
  :class:`StaleLockWarning` naming the dead holder, and taken over.
* **No silent clobbering.** A fresh run into a directory that holds a run's results
  (checkpoint, ``metrics.jsonl``, ``config.yaml``, ``summary.json``, plots) is refused
  unless the caller asks to resume or to overwrite. ``overwrite`` deletes nothing: it
  moves every entry of the directory into ``<out>/replaced-<YYYYmmdd-HHMMSS>/``.
* **Stale temporaries.** Temporaries ``.checkpoint.pt.*.tmp`` (and
  ``metrics.csv.tmp``) left by a process killed mid-write are removed on start
  (under the lock no other writer of the run exists, so they are this run's own,
  incomplete files).
* **Clear path errors.** An ``--out`` that is a file, lies under a file, or cannot be
  created or written (permissions, read-only file system) is a
  :class:`RunDirectoryError` naming the path and the problem.

Messages about what to do name the option in the caller's vocabulary:
:class:`RunDirectoryError` keeps templates with ``{resume}`` / ``{overwrite}`` slots,
``str(err)`` fills them with the Python keywords and :meth:`RunDirectoryError.for_cli`
with the command-line flags.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".neurosim-run.lock"
#: files a training run writes; their presence means the directory holds a run
RESULT_FILES = ("checkpoint.pt", "metrics.jsonl", "config.yaml", "summary.json")
RESULT_GLOBS = ("*.png", "metrics.csv")
BACKUP_PREFIX = "replaced-"
#: temporaries of atomic writes (checkpoint, metrics.csv) a killed run leaves behind
TEMP_GLOBS = (".checkpoint.pt.*.tmp", "metrics.csv.tmp")

PYTHON_WORDS = {"resume": "resume=True", "overwrite": "overwrite=True"}
CLI_WORDS = {"resume": "--resume", "overwrite": "--overwrite"}


class RunDirectoryError(RuntimeError):
    """A run directory cannot be used as asked; the message names the path, the
    problem and the fix (see the module docstring for the two vocabularies)."""

    def __init__(self, template: str) -> None:
        self.template = template
        super().__init__(_fill(template, PYTHON_WORDS))

    def for_cli(self) -> str:
        """The message with command-line flags (``--resume``) instead of keywords."""
        return _fill(self.template, CLI_WORDS)


def _fill(template: str, words: dict[str, str]) -> str:
    for slot, word in words.items():
        template = template.replace("{" + slot + "}", word)
    return template


class RunExistsError(RunDirectoryError, FileExistsError):
    """The directory already holds a run (or its results) and neither resume nor
    overwrite was asked for."""


class RunBusyError(RunDirectoryError):
    """Another process holds the directory's lock."""


class StaleLockWarning(UserWarning):
    """The lock file of a process that no longer runs (killed) was found and taken over."""


class RunDirectory:
    """The output directory of one training run.

    Parameters
    ----------
    path
        The directory (created by :meth:`locked` if absent).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._created = False

    # -- path checks --------------------------------------------------------------------
    def check_path(self) -> None:
        """Raise :class:`RunDirectoryError` if the path is unusable as a run directory."""
        for parent in (self.path, *self.path.parents):
            if parent.exists() and not parent.is_dir():
                what = "is a file" if parent == self.path else f"lies under the file {parent}"
                raise RunDirectoryError(
                    f"output directory {self.path} {what}, not a directory; choose a "
                    "directory path for the run"
                )
            if parent.exists():
                break

    def _make(self) -> None:
        self.check_path()
        if self.path.is_dir():
            if not os.access(self.path, os.W_OK | os.X_OK):
                raise RunDirectoryError(
                    f"output directory {self.path} is not writable (permission denied); "
                    "choose a directory you can write to"
                )
            return
        try:
            self.path.mkdir(parents=True)
        except OSError as err:
            raise RunDirectoryError(
                f"cannot create the output directory {self.path}: {_reason(err)}; choose "
                "a directory you can write to"
            ) from None
        self._created = True

    # -- the lock -----------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[RunDirectory]:
        """Create the directory if needed and hold its exclusive lock while inside.

        Raises
        ------
        RunBusyError
            Another live process holds the lock (the message names its PID).
        RunDirectoryError
            The path is a file or cannot be created or written.
        """
        self._make()
        lock = self.path / LOCK_NAME
        try:
            fd, previous = _acquire(lock)
        except PermissionError as err:
            raise RunDirectoryError(
                f"cannot write the lock file {lock}: {_reason(err)}; choose a directory "
                "you can write to"
            ) from None
        except OSError as err:
            if err.errno in (errno.EROFS, errno.EACCES):
                raise RunDirectoryError(
                    f"cannot write in the output directory {self.path}: {_reason(err)}; "
                    "choose a directory you can write to"
                ) from None
            raise
        try:
            if previous:
                warnings.warn(
                    f"run directory {self.path}: found the lock of {_describe(previous)}, "
                    "which is no longer running (killed, or its machine restarted); taking "
                    "it over. The epochs it completed, if any, are in its checkpoint",
                    StaleLockWarning,
                    stacklevel=3,
                )
            yield self
        finally:
            _release(fd, lock)
            if self._created and not any(self.path.iterdir()):
                self.path.rmdir()  # nothing was written: leave no empty directory behind

    @contextmanager
    def claimed(self, resume: bool = False, overwrite: bool = False) -> Iterator[RunDirectory]:
        """:meth:`locked`, with stale temporaries removed and, for a fresh run
        (``resume=False``), :meth:`prepare_fresh` applied; each action is reported."""
        if resume and overwrite:
            raise RunDirectoryError(
                "pass {resume} to continue the run, or {overwrite} to start it again, not both"
            )
        with self.locked():
            stale = self.remove_stale_temporaries()
            if stale:
                notice(f"removed {len(stale)} temporary files left by a killed run: {stale}")
            if not resume:
                moved = self.prepare_fresh(overwrite)
                if moved is not None:
                    notice(f"overwrite: moved the previous run's files to {moved}")
            yield self

    # -- contents -----------------------------------------------------------------------
    def results(self) -> list[str]:
        """Names of run outputs present in the directory (sorted)."""
        if not self.path.is_dir():
            return []
        found = {name for name in RESULT_FILES if (self.path / name).exists()}
        for pattern in RESULT_GLOBS:
            found.update(p.name for p in self.path.glob(pattern))
        return sorted(found)

    def interrupted_before_first_epoch(self) -> bool:
        """A run started here but finished no epoch: ``config.yaml`` is present while
        there is no checkpoint, no summary and no line in ``metrics.jsonl``."""
        metrics = self.path / "metrics.jsonl"
        return (
            (self.path / "config.yaml").is_file()
            and not (self.path / "checkpoint.pt").exists()
            and not (self.path / "summary.json").exists()
            and (not metrics.exists() or not metrics.read_text().strip())
        )

    def remove_stale_temporaries(self) -> list[str]:
        """Delete temporaries left by a killed writer (call under the lock)."""
        removed = []
        for pattern in TEMP_GLOBS:
            for tmp in sorted(self.path.glob(pattern)):
                tmp.unlink(missing_ok=True)
                removed.append(tmp.name)
        return removed

    def prepare_fresh(self, overwrite: bool) -> Path | None:
        """Make sure a fresh run may write here (call under the lock).

        Without ``overwrite`` a directory holding results is refused; with it, every
        entry except the lock and earlier backups is moved into a new
        ``replaced-<time>/`` folder, whose path is returned (``None``: nothing moved).
        """
        found = self.results()
        if not found:
            return None
        if not overwrite:
            if "checkpoint.pt" in found:
                raise RunExistsError(
                    f"{self.path} already holds a training run (checkpoint.pt); pass "
                    "{resume} to continue it, {overwrite} to start again (the old files are "
                    "moved to a replaced-<time>/ folder inside it), or choose another "
                    "output directory"
                )
            if self.interrupted_before_first_epoch():
                raise RunExistsError(
                    f"{self.path} holds a run stopped before its first epoch finished "
                    f"({', '.join(found)}); pass {{resume}} to start it again from the "
                    "beginning, {overwrite} to start a different run (the old files are "
                    "moved to a replaced-<time>/ folder inside it), or choose another "
                    "output directory"
                )
            raise RunExistsError(
                f"{self.path} holds the results of a run ({', '.join(found)}) but no "
                "checkpoint.pt, so it cannot be resumed; pass {overwrite} to start again "
                "(the old files are moved to a replaced-<time>/ folder inside it), or "
                "choose another output directory"
            )
        return self._set_aside()

    def _set_aside(self) -> Path:
        backup = self.path / (BACKUP_PREFIX + time.strftime("%Y%m%d-%H%M%S"))
        suffix = 1
        while backup.exists():
            suffix += 1
            backup = backup.with_name(f"{backup.name.split('.')[0]}.{suffix}")
        backup.mkdir()
        for entry in sorted(self.path.iterdir()):
            if entry.name == LOCK_NAME or entry.name.startswith(BACKUP_PREFIX):
                continue
            entry.rename(backup / entry.name)
        return backup


def notice(message: str) -> None:
    """One line on stderr about something the run did to its directory."""
    print(f"neurosim: {message}", file=sys.stderr)


# -- lock primitives ----------------------------------------------------------------------
def _holder_record() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(sys.argv)[:300],
    }


def _describe(record: dict[str, Any]) -> str:
    return (
        f"PID {record.get('pid')} on {record.get('host')} (started {record.get('started')}: "
        f"{record.get('command') or '?'})"
    )


def _read_record(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        record = json.loads(raw.decode()) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        record = {"pid": "?", "host": "?", "started": "?", "command": raw[:80]}
    return record if isinstance(record, dict) else {}


def _write_record(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(_holder_record()).encode())
    os.fsync(fd)


def _busy(lock: Path, holder: dict[str, Any]) -> RunBusyError:
    return RunBusyError(
        f"run directory {lock.parent} is in use by {_describe(holder)}: one run directory "
        "takes one writer. Wait for it to finish, stop it, or choose another output directory"
    )


def _acquire(lock: Path) -> tuple[int, dict[str, Any]]:
    """Take the lock; return its descriptor and the record of a stale previous holder."""
    if fcntl is None:  # pragma: no cover - Windows
        return _acquire_exclusive_create(lock)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(fd)
            os.close(fd)
            raise _busy(lock, holder) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not unlinked by a releasing holder between our open and flock
            break
        os.close(fd)
    previous = _read_record(fd)
    _write_record(fd)
    return fd, previous


def _acquire_exclusive_create(lock: Path) -> tuple[int, dict[str, Any]]:  # pragma: no cover
    """Fallback without ``flock``: ``O_EXCL`` creation, stale if the holder's PID is gone."""
    previous: dict[str, Any] = {}
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        fd = os.open(lock, os.O_RDWR)
        previous = _read_record(fd)
        if _alive(previous.get("pid")):
            os.close(fd)
            raise _busy(lock, previous) from None
    _write_record(fd)
    return fd, previous


def _alive(pid: Any) -> bool:  # pragma: no cover - used by the Windows fallback
    try:
        os.kill(int(pid), 0)
    except (ValueError, TypeError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _release(fd: int, lock: Path) -> None:
    try:
        lock.unlink(missing_ok=True)  # while still holding it: the next taker re-checks
    finally:
        os.close(fd)


def _reason(err: OSError) -> str:
    if err.errno == errno.EROFS:
        return "read-only file system"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.ENOTDIR:
        return "a component of the path is a file"
    return err.strerror or str(err)


__all__ = [
    "LOCK_NAME",
    "notice",
    "RunBusyError",
    "RunDirectory",
    "RunDirectoryError",
    "RunExistsError",
    "StaleLockWarning",
]
