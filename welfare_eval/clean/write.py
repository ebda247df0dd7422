"""Atomic publication of the cleaning outputs, and the check that processed data are current.

Publication (:func:`write_outputs`)
    The whole output set (``<table>.parquet``, ``ledger.csv``, ``checks.csv``, ``variables.csv``,
    ``manifest.json``) is written into a new folder beside ``out_dir`` (``.<name>.tmp-<pid>-<random>``),
    verified (every file read back and its SHA-256 compared with the manifest), and only then switched in
    with ONE rename: on Linux an atomic exchange of the two folders (``renameat2(RENAME_EXCHANGE)``), so
    ``out_dir`` always exists and is always a complete set, old or new; elsewhere (or on file systems
    without it) ``out_dir`` is renamed to ``.<name>.old-<pid>-<random>`` and the new folder to
    ``out_dir`` (two renames: a kill in between leaves no ``out_dir`` but the complete old set, which the
    next run puts back). Files in ``out_dir`` that the cleaning did not write (a README, the analysis
    results) are carried over into the new folder as hard links before the switch. A failure at any
    point (a file open in another program, a full disk, a kill) leaves the old set as it was, never a
    mix of old and new files; temporary folders left by a killed run are removed by the next run.
    Parquet files carry no timestamps, so the same tables give byte-identical files.

Freshness (:func:`verify_processed`)
    Later stages call it before reading ``out_dir``: every output must have the SHA-256 the manifest
    records, and every input (raw files, codebook, corrections) must still have the SHA-256 it had when
    the tables were made, with no new raw file since. Otherwise :class:`StaleDataError` says what to
    rerun.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from welfare_eval._io import json_dumps, parquet_bytes, sha256_bytes, write_csv
from welfare_eval._io import sha256_file as _sha256
from welfare_eval.clean.io import CleaningError

__all__ = ["MANIFEST", "StaleDataError", "verify_processed", "write_outputs"]

MANIFEST = "manifest.json"
_OURS = ("package", "stage")


class StaleDataError(CleaningError):
    """Processed data missing, changed, or older than their raw inputs (one-line message saying what to rerun)."""


# --------------------------------------------------------------------------------------------------
# Folder switch
# --------------------------------------------------------------------------------------------------
def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two folders (Linux ``renameat2(RENAME_EXCHANGE)``); False when unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    e = ctypes.get_errno()
    if e in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(e, os.strerror(e), str(b))


def _swap(new: Path, out: Path) -> Path | None:
    """Put folder ``new`` in place of ``out``; returns the folder now holding the old set (or None)."""
    if not out.exists():
        os.rename(new, out)
        return None
    if _exchange(new, out):
        return new
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
    old.rmdir()
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)  # put the old set back
        raise
    return old


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _tidy_leftovers(out: Path) -> None:
    """Remove temporary folders of killed runs; put back an old set left by a kill between two renames."""
    if not out.parent.is_dir():
        return
    for p in sorted(out.parent.iterdir()):
        name = p.name
        for kind in ("tmp", "old"):
            prefix = f".{out.name}.{kind}-"
            if not name.startswith(prefix) or not p.is_dir():
                continue
            try:
                pid = int(name[len(prefix):].split("-")[0])
            except ValueError:
                continue
            if _pid_alive(pid):
                continue
            if kind == "old" and not out.exists() and (p / MANIFEST).is_file():
                os.rename(p, out)  # the switch was cut between its two renames
            else:
                shutil.rmtree(p, ignore_errors=True)


def _owned(out: Path) -> dict[str, Any] | None:
    """The previous manifest when ``out`` holds a cleaning output set (None for an empty folder).

    Raises
    ------
    CleaningError
        When ``out`` is not a folder, or holds files that the cleaning did not write and no manifest.
    """
    if not out.exists():
        return None
    if not out.is_dir():
        raise CleaningError(f"{out}: exists and is not a folder; choose another --out")
    mp = out / MANIFEST
    if mp.is_file():
        try:
            man = json.loads(mp.read_text("utf-8"))
        except (OSError, ValueError):
            man = None
        if isinstance(man, dict) and man.get("package") == "welfare_eval" and man.get("stage") == "clean":
            return man
    foreign = sorted(p.name for p in out.iterdir() if not p.name.startswith(".") and not p.name.upper().startswith("README"))
    if foreign:
        raise CleaningError(
            f"{out}: holds files the cleaning did not write (e.g. {foreign[0]}) and no cleaning manifest; choose an "
            "empty folder for the processed data"
        )
    return None


def _carry_over(out: Path, tmp: Path, previous: dict[str, Any] | None, ours: set[str]) -> None:
    """Hard-link into ``tmp`` everything in ``out`` that is not a cleaning output (README, results/, ...)."""
    if not out.is_dir():
        return
    old_outputs = {o["file"] for o in (previous or {}).get("outputs", [])} | {MANIFEST}
    for p in sorted(out.iterdir()):
        if p.name in old_outputs or p.name in ours:
            continue
        dst = tmp / p.name
        if p.is_dir() and not p.is_symlink():
            shutil.copytree(p, dst, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(p), str(dst))


def _link_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)
    return dst


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _verify(folder: Path, manifest: dict[str, Any]) -> None:
    import pyarrow.parquet as pq

    for o in manifest["outputs"]:
        p = folder / o["file"]
        if _sha256(p) != o["sha256"]:  # pragma: no cover - a disk that does not keep what it was given
            raise CleaningError(f"{p}: written file differs from what was written (disk problem?); nothing was replaced")
        if p.suffix == ".parquet" and pq.read_metadata(p).num_rows != o["rows"]:  # pragma: no cover
            raise CleaningError(f"{p}: written table has the wrong number of rows; nothing was replaced")
    json.loads((folder / MANIFEST).read_text("utf-8"))


def write_outputs(
    out_dir: str | Path,
    tables: dict[str, pd.DataFrame],
    *,
    reports: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    raw_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Publish ``<table>.parquet``, ``<report>.csv`` and ``manifest.json`` in ``out_dir`` as one unit.

    The manifest gets an ``outputs`` list (file, sha256, rows, columns) and an ``id`` (SHA-256 of the
    outputs list) before it is written. See the module notes for how the set is switched in.

    Raises
    ------
    CleaningError
        If ``out_dir`` is inside ``raw_dir`` (the raw folder is never written), holds files the cleaning
        did not write, or cannot be replaced (e.g. a file in it is open in another program).
    """
    out = Path(out_dir).absolute()
    if out.is_symlink():
        out = out.resolve()
    if raw_dir is not None:
        raw = Path(raw_dir).resolve()
        if out.resolve() == raw or raw in out.resolve().parents:
            raise CleaningError(f"{out}: output folder is inside the raw data folder {raw}; choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CleaningError(f"{out.parent}: cannot create the output folder ({exc.strerror}); choose another --out") from None
    _tidy_leftovers(out)
    previous = _owned(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    leftover: Path | None = tmp
    try:
        outputs = []
        for name in sorted(tables):
            data = parquet_bytes(tables[name])
            (tmp / f"{name}.parquet").write_bytes(data)
            outputs.append({"file": f"{name}.parquet", "sha256": sha256_bytes(data), "rows": len(tables[name]),
                            "columns": [str(c) for c in tables[name].columns]})
        for name in sorted(reports):
            p = tmp / f"{name}.csv"
            write_csv(reports[name], p)
            outputs.append({"file": p.name, "sha256": _sha256(p), "rows": len(reports[name])})
        manifest = {**manifest, "outputs": outputs}
        manifest["id"] = sha256_bytes(json_dumps(outputs).encode("utf-8"))
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        _carry_over(out, tmp, previous, {str(o["file"]) for o in outputs})
        _verify(tmp, manifest)
        _fsync_dir(tmp)
        try:
            leftover = _swap(tmp, out)
        except OSError as exc:
            raise CleaningError(
                f"{out}: cannot be replaced ({exc.strerror or type(exc).__name__}); close its files in other programs "
                "(e.g. checks.csv open in Excel) and run again; the previous output set is unchanged"
            ) from None
        _fsync_dir(out.parent)
    finally:
        if leftover is not None:
            shutil.rmtree(leftover, ignore_errors=True)
    return manifest


# --------------------------------------------------------------------------------------------------
# Freshness
# --------------------------------------------------------------------------------------------------
def _rerun(what: str) -> str:
    return f"{what}; run `welfare-eval clean` again"


def verify_processed(processed_dir: str | Path, raw_dir: str | Path | None = None) -> dict[str, Any]:
    """Check that the processed data in ``processed_dir`` are complete and current; return the manifest.

    Parameters
    ----------
    processed_dir : path
        The cleaning's output folder.
    raw_dir : path, optional
        The raw folder the tables were made from; when given, every input recorded in the manifest
        (raw files, codebook, corrections files) must still have its SHA-256 and no new raw file may
        have appeared.

    Raises
    ------
    StaleDataError
        One line naming the file that is missing, changed or new, and what to rerun.
    """
    out = Path(processed_dir)
    mp = out / MANIFEST
    if not mp.is_file():
        raise StaleDataError(f"{out}: no cleaned data (no {MANIFEST}); run `welfare-eval clean` first")
    try:
        man = json.loads(mp.read_text("utf-8"))
    except (OSError, ValueError):
        raise StaleDataError(_rerun(f"{mp}: unreadable")) from None
    if not isinstance(man, dict) or any(k not in man for k in _OURS) or man.get("stage") != "clean":
        raise StaleDataError(_rerun(f"{mp}: not a cleaning manifest"))
    for o in man.get("outputs", []):
        p = out / o["file"]
        if not p.is_file():
            raise StaleDataError(_rerun(f"{p}: missing"))
        if _sha256(p) != o["sha256"]:
            raise StaleDataError(_rerun(f"{p}: changed after the cleaning wrote it"))
    if raw_dir is None:
        return dict(man)
    raw = Path(raw_dir)
    known: set[str] = set(man.get("ignored_files", []))
    checks: list[tuple[str, str]] = [(i["file"], i["sha256"]) for i in man.get("inputs", [])]
    cb = man.get("codebook", {})
    if cb.get("in_raw", True) and cb.get("file"):
        checks.append((cb["file"], cb["sha256"]))
    checks += [(c.get("path") or c["file"], c["sha256"]) for c in man.get("corrections", {}).get("files", [])]
    for name, digest in checks:
        p = raw / name  # an absolute path (corrections kept outside the raw folder) stays itself
        if not p.is_file():
            raise StaleDataError(_rerun(f"{p}: raw input of the processed data is gone"))
        if _sha256(p) != digest:
            raise StaleDataError(_rerun(f"{p}: changed since the processed data were made"))
        known.add(name)
    if raw.is_dir():
        now = [p.name for p in raw.iterdir() if p.is_file() and not p.name.startswith(".")
               and not p.name.upper().startswith("README")]
        corr = raw / "corrections"
        if corr.is_dir():
            now += [f"corrections/{p.name}" for p in corr.iterdir() if p.is_file() and not p.name.startswith(".")
                    and not p.name.upper().startswith("README")]
        new = sorted(set(now) - known)
        if new:
            raise StaleDataError(_rerun(f"{raw / new[0]}: new raw file since the processed data were made"))
    return dict(man)
