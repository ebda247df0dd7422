"""Connecting to the monitoring store: an embedded SQLite file by default, PostgreSQL by URL.

>>> from welfare_eval.monitor import MonitorDB
>>> db = MonitorDB.open("data/monitor.sqlite")            # doctest: +SKIP
>>> db = MonitorDB.open("postgresql+psycopg://user@host/welfare")  # doctest: +SKIP

:func:`open_engine` accepts a path (a SQLite file, created with its folder when missing) or a
SQLAlchemy URL (``sqlite:///...``, ``postgresql://...``, ``postgresql+psycopg://...``; a bare
``postgresql://`` URL is given the psycopg 3 driver). :func:`upgrade` runs the packaged Alembic
migrations to ``head``; :meth:`MonitorDB.open` does both.

SQLite connections enforce foreign keys and take the write lock when a transaction begins
(``BEGIN IMMEDIATE``), so two importers never interleave; PostgreSQL imports lock the submission
table in ``SHARE ROW EXCLUSIVE`` mode for the same reason (readers are never blocked).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from welfare_eval.monitor import schema as S

__all__ = ["MonitorDB", "current_revision", "open_engine", "upgrade"]


def _url(target: str | Path) -> sa.URL:
    text = str(target)
    if "://" not in text:
        path = Path(text).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        return sa.URL.create("sqlite", database=str(path))
    url = sa.make_url(text)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"monitoring store URL {url.render_as_string(hide_password=True)!r}: "
                         "only SQLite (a file path or sqlite:///...) and PostgreSQL are supported")
    return url


def _sqlite_setup(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's BEGIN below start transactions
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_engine(target: str | Path | Engine) -> Engine:
    """A SQLAlchemy engine for a SQLite path / URL or a PostgreSQL URL (an engine is returned as is)."""
    if isinstance(target, Engine):
        return target
    url = _url(target)
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        _sqlite_setup(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("welfare_eval.monitor") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(target: str | Path | Engine, revision: str = "head") -> Engine:
    """Bring the monitoring schema of ``target`` to ``revision`` (default the newest); returns the engine.

    Runs the Alembic migrations packaged in ``welfare_eval/monitor/migrations`` in one transaction
    (PostgreSQL DDL is transactional; on SQLite each migration's statements run under the same
    connection). Safe to call on an up-to-date database (nothing happens).
    """
    from alembic import command

    engine = open_engine(target)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)
    return engine


def current_revision(target: str | Path | Engine) -> str | None:
    """The schema revision of ``target`` (``None`` for an empty database)."""
    from alembic.migration import MigrationContext

    engine = open_engine(target)
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": S.VERSION_TABLE}).get_current_revision()


@dataclass
class MonitorDB:
    """The monitoring store: an engine with the schema at the newest revision.

    Use :meth:`open`; the methods delegate to :mod:`welfare_eval.monitor.intake` (imports) and
    :mod:`welfare_eval.monitor.queries` (current state, history, submission status).
    """

    engine: Engine

    @classmethod
    def open(cls, target: str | Path | Engine, *, migrate: bool = True) -> MonitorDB:
        """Open (and by default create/upgrade) the store at a SQLite path or a database URL."""
        engine = upgrade(target) if migrate else open_engine(target)
        return cls(engine)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return str(self.engine.dialect.name)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the importers' lock (see the module docstring)."""
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE submission IN SHARE ROW EXCLUSIVE MODE")
            yield conn

    # ---------------------------------------------------------------------------------------------
    # Villages
    # ---------------------------------------------------------------------------------------------
    def register_villages(self, villages: pd.DataFrame) -> int:
        """Register the study's villages (idempotent); returns the number of villages added.

        Parameters
        ----------
        villages : DataFrame
            ``village_id`` (8 digits), ``region`` (int), ``province_code`` (2 digits; default the
            first two digits of the village code), optional ``village_name``, ``arm``,
            ``n_households`` and ``first_period`` (first quarter a report is expected, e.g.
            ``"2566Q1"``; missing = not expected to report).

        Raises
        ------
        ValueError
            If a column is missing or invalid, a village appears twice, or a registered village is
            registered again with different attributes (villages are append-only).
        """
        from welfare_eval.monitor.periods import PeriodError, parse_period
        from welfare_eval.reference import is_valid_village_code

        need = {"village_id", "region"}
        miss = need - set(villages.columns)
        if miss:
            raise ValueError(f"register_villages: missing column(s) {sorted(miss)}; need village_id and region")
        rows: list[dict[str, Any]] = []
        recs: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in villages.to_dict(orient="records")]
        for i, r in enumerate(recs):
            vid = str(r["village_id"]).strip()
            if not is_valid_village_code(vid):
                raise ValueError(f"register_villages: row {i}: village_id {vid!r} is not an 8-digit village code")
            prov = str(r.get("province_code") or vid[:2]).zfill(2)
            fp = r.get("first_period")
            fy = fq = None
            if fp is not None and not (isinstance(fp, float) and pd.isna(fp)) and str(fp) != "":
                try:
                    p = parse_period(fp)
                except PeriodError as exc:
                    raise ValueError(f"register_villages: row {i}: first_period: {exc}") from None
                fy, fq = p.year, p.quarter
            nh = r.get("n_households")
            rows.append(
                {
                    "village_id": vid,
                    "region": int(r["region"]),
                    "province_code": prov,
                    "village_name": None if pd.isna(r.get("village_name")) else str(r.get("village_name")),
                    "arm": None if pd.isna(r.get("arm")) else str(r.get("arm")),
                    "n_households": None if nh is None or pd.isna(nh) else int(nh),
                    "first_year": fy,
                    "first_quarter": fq,
                }
            )
        ids = [r["village_id"] for r in rows]
        if len(set(ids)) != len(ids):
            dup = next(v for v in ids if ids.count(v) > 1)
            raise ValueError(f"register_villages: village {dup} appears twice")
        added = 0
        with self.write() as conn:
            have = {
                r.village_id: r._asdict()
                for r in conn.execute(sa.select(S.village).where(S.village.c.village_id.in_(ids)))
            }
            new = []
            for r in rows:
                old = have.get(r["village_id"])
                if old is None:
                    new.append(r)
                elif any(old[k] != r[k] for k in r):
                    diff = [k for k in r if old[k] != r[k]]
                    raise ValueError(
                        f"register_villages: village {r['village_id']} is registered with other "
                        f"{', '.join(diff)}; villages are append-only (register a corrected code instead)"
                    )
            if new:
                conn.execute(sa.insert(S.village), new)
                added = len(new)
        return added

    def villages(self) -> pd.DataFrame:
        """The registered villages (sorted by code)."""
        with self.engine.connect() as conn:
            df = pd.read_sql(sa.select(S.village).order_by(S.village.c.village_id), conn)
        return df


def utc_now() -> _dt.datetime:
    """The current time in UTC (the only place the store reads the clock: ``submission.imported_at``)."""
    return _dt.datetime.now(_dt.UTC)
