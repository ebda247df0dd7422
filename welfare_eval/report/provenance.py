"""Provenance for the report's appendix: package versions, data file hashes, seeds.

Examples
--------
>>> from welfare_eval.report import provenance
>>> v = provenance.package_versions(["numpy", "pandas"])
>>> sorted(v)
['numpy', 'pandas']
"""

from __future__ import annotations

import hashlib
import platform
import re
import tomllib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "appendix_table",
    "file_hashes",
    "locked_versions",
    "package_versions",
    "project_root",
    "sha256_file",
]

_LOCK_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")
_REQ_NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")


def project_root() -> Path:
    """The source tree holding ``pyproject.toml`` / ``requirements.lock`` (parent of the package)."""
    return Path(__file__).resolve().parents[2]


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: str | Path | None = None) -> dict[str, str]:
    """``{name: version}`` pinned in ``requirements.lock`` (pip-compile/uv format); ``{}`` if absent."""
    path = Path(lock) if lock is not None else project_root() / "requirements.lock"
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _LOCK_LINE.match(line.strip())
        if m:
            out[_canon(m.group("name"))] = m.group("version")
    return dict(sorted(out.items()))


def _direct_dependencies() -> list[str]:
    pyproject = project_root() / "pyproject.toml"
    reqs: list[str] = []
    if pyproject.is_file():
        with pyproject.open("rb") as fh:
            reqs = list(tomllib.load(fh).get("project", {}).get("dependencies", []))
    else:
        try:
            reqs = [r for r in (metadata.requires("welfare_eval") or []) if "extra ==" not in r]
        except metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
            reqs = []
    names = []
    for r in reqs:
        m = _REQ_NAME.match(r)
        if m:
            names.append(_canon(m.group("name")))
    return sorted(set(names))


def package_versions(names: Iterable[str] | None = None) -> dict[str, str | None]:
    """Installed versions (``importlib.metadata``) of ``names``; ``None`` for a missing package.

    Parameters
    ----------
    names : iterable of str, optional
        Distribution names. Default: the packages pinned in ``requirements.lock`` when it exists,
        else the dependencies declared in ``pyproject.toml`` (or the installed package metadata).
    """
    if names is None:
        locked = locked_versions()
        wanted = list(locked) if locked else _direct_dependencies()
    else:
        wanted = [_canon(n) for n in names]
    out: dict[str, str | None] = {}
    for n in sorted(set(wanted)):
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def file_hashes(
    paths: Iterable[str | Path] | str | Path, *, root: str | Path | None = None
) -> dict[str, str]:
    """SHA-256 of files; a directory contributes every file below it (sorted, hidden files skipped).

    Parameters
    ----------
    paths : path or iterable of paths
    root : path, optional
        Keys are POSIX paths relative to ``root`` when given, else as given/found.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: cannot hash, no such file or directory")
    out: dict[str, str] = {}
    for f in files:
        key = f.resolve().relative_to(Path(root).resolve()).as_posix() if root is not None else f.as_posix()
        out[key] = sha256_file(f)
    return out


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        rows: list[tuple[str, str]] = []
        for k, v in value.items():
            rows += _flatten(f"{prefix}.{k}" if prefix else str(k), v)
        return rows
    if isinstance(value, list | tuple):
        return [(prefix, ", ".join(str(v) for v in value))]
    return [(prefix, str(value))]


def appendix_table(
    manifest: Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
    packages: Iterable[str] | None = None,
    data_files: Iterable[str | Path] | None = None,
    root: str | Path | None = None,
) -> pd.DataFrame:
    """The provenance appendix as a tidy table with columns ``section``, ``item``, ``value``.

    Sections: ``software`` (Python, platform, welfare_eval and package versions; a locked version
    that differs from the installed one is shown as ``"installed (lock: x)"``), ``run`` (seed),
    ``data`` (SHA-256 of files: from ``manifest["files"]`` / ``manifest["hashes"]`` when it maps
    names to hashes, plus ``data_files`` hashed now), ``manifest`` (other manifest entries, flattened).

    Parameters
    ----------
    manifest : mapping, optional
        A stage manifest (e.g. the cleaning manifest): ``{"files": {name: sha256}, "seed": ..., ...}``.
    seed : int, optional
        The seed of the run (overrides ``manifest["seed"]``).
    packages : iterable of str, optional
        Passed to :func:`package_versions` (default: the locked packages).
    data_files : iterable of paths, optional
        Files/folders to hash now.
    root : path, optional
        Base for relative names of ``data_files``.
    """
    import welfare_eval

    rows: list[tuple[str, str, str]] = [
        ("software", "python", platform.python_version()),
        ("software", "platform", f"{platform.system()} {platform.machine()}"),
        ("software", "welfare_eval", welfare_eval.__version__),
    ]
    locked = locked_versions()
    for name, ver in package_versions(packages).items():
        shown = "not installed" if ver is None else ver
        if name in locked and ver is not None and locked[name] != ver:
            shown = f"{ver} (lock: {locked[name]})"
        rows.append(("software", name, shown))
    man = dict(manifest or {})
    run_seed = seed if seed is not None else man.pop("seed", None)
    if seed is not None:
        man.pop("seed", None)
    if run_seed is not None:
        rows.append(("run", "seed", str(run_seed)))
    for key in ("files", "hashes", "sha256"):
        block = man.pop(key, None)
        if isinstance(block, Mapping):
            for name, h in block.items():
                if isinstance(h, Mapping):
                    h = h.get("sha256", h)
                rows.append(("data", str(name), str(h)))
    if data_files is not None:
        for name, h in file_hashes(list(data_files), root=root).items():
            rows.append(("data", name, h))
    for item, value in _flatten("", man):
        rows.append(("manifest", item, value))
    return pd.DataFrame(rows, columns=["section", "item", "value"])
