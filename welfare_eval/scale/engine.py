"""Data engines: an embedded DuckDB (default, nothing to start) or Apache Spark, behind one Ibis layer.

Household rows stay in Parquet files; the engine runs the reductions (filters, projections, group-by)
where the data are and only the small result comes back to pandas. The same Ibis expression is compiled to
DuckDB SQL or to Spark SQL, so a reduction is written once (:mod:`welfare_eval.scale.cells`).

* ``connect("duckdb")``: an in-process DuckDB database (``threads=`` and ``memory_limit=`` are passed to
  DuckDB; it spills to disk beyond the limit).
* ``connect("spark")``: a Spark session. Without ``spark=`` a local session is started with
  :func:`spark_session` (``local[2]``, no web UI, driver bound to 127.0.0.1, so nothing listens on the
  network); on a cluster pass your own session (``spark=SparkSession.builder.master(...).getOrCreate()``).
  Spark needs a Java runtime (17 is tested); without one :class:`EngineUnavailableError` says so.

Parquet data sets may be one file, a folder of files, or a hive-partitioned folder
(``year=2027/province_code=12/part-0.parquet``). Partition values are read as text unless
``partition_types`` says otherwise (e.g. ``{"year": "int64"}``); they are never guessed, because guessing
turns codes such as a province ``"10"`` into numbers.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

__all__ = [
    "ENGINES",
    "Engine",
    "EngineName",
    "EngineUnavailableError",
    "connect",
    "java_available",
    "parquet_files",
    "quiet_ibis",
    "spark_session",
]

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")

#: Partition-column types understood by :meth:`Engine.read_parquet` (Ibis name → DuckDB SQL type).
_PARTITION_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "int32": "INTEGER",
    "int16": "SMALLINT",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
}

#: Spark settings of the local session (overridable with ``conf=``).
SPARK_LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    # list partition folders in the driver (a local folder lists faster than a listing job)
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "1000000",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


@contextmanager
def quiet_ibis() -> Iterator[None]:
    """Silence Ibis's own deprecation chatter about its dependencies (nothing the user can act on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*fetch_arrow_table\(\) is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*'future\.infer_string' option is deprecated.*")
        warnings.filterwarnings("ignore", message=r".*The copy keyword is deprecated.*")
        yield


class EngineUnavailableError(RuntimeError):
    """The requested engine cannot start here (e.g. Spark without a Java runtime)."""


def java_available() -> bool:
    """Whether a Java runtime is found (``JAVA_HOME/bin/java`` or ``java`` on the PATH)."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return True
    return shutil.which("java") is not None


def spark_session(
    *, master: str = "local[2]", app_name: str = "welfare_eval", conf: Mapping[str, str] | None = None
) -> Any:
    """Start (or get) a Spark session with the local, no-network defaults :data:`SPARK_LOCAL_CONF`.

    Parameters
    ----------
    master : str
        Spark master URL (``local[2]`` = two worker threads in this process's JVM).
    app_name : str
    conf : mapping, optional
        Extra or overriding Spark settings (e.g. ``{"spark.driver.memory": "4g"}``).

    Raises
    ------
    EngineUnavailableError
        When PySpark is not installed or no Java runtime is found.
    """
    if not java_available():
        raise EngineUnavailableError(
            "engine='spark' needs a Java runtime (17 recommended): install one (e.g. Debian "
            "'openjdk-17-jre-headless') or set JAVA_HOME; use engine='duckdb' otherwise"
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise EngineUnavailableError("engine='spark' needs the 'pyspark' package") from exc
    # Python workers (not used by the reductions, but by any UDF) run this interpreter
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for k, v in {**SPARK_LOCAL_CONF, **dict(conf or {})}.items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def parquet_files(path: str | Path) -> tuple[Path, list[Path], list[str]]:
    """The Parquet files of a data set and its hive partition keys.

    Parameters
    ----------
    path : path
        A ``.parquet`` file or a folder searched recursively (files and folders starting with ``.`` or
        ``_`` are skipped, as Spark and DuckDB do).

    Returns
    -------
    (root, files, partition_keys)
        ``partition_keys``: the ``key`` of every ``key=value`` folder between the root and the files, in
        order (empty when not partitioned).

    Raises
    ------
    ValueError
        When the path does not exist, holds no Parquet file, or its files are partitioned inconsistently.
    """
    p = Path(path)
    if p.is_file():
        return p.parent, [p], []
    if not p.is_dir():
        raise ValueError(f"Parquet data set {str(p)!r} does not exist")
    files = sorted(
        f
        for f in p.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in f.relative_to(p).parts)
    )
    if not files:
        raise ValueError(f"no .parquet file under {str(p)!r}")
    keys: list[str] | None = None
    for f in files:
        parts = f.relative_to(p).parts[:-1]
        ks = [part.split("=", 1)[0] for part in parts if "=" in part]
        if len(ks) != len(parts):
            raise ValueError(
                f"{f}: folder(s) between {p} and the file are not key=value partitions; point to the data set root"
            )
        if keys is None:
            keys = ks
        elif ks != keys:
            raise ValueError(f"{f}: partition keys {ks} differ from {keys} of the other files")
    return p, files, list(keys or [])


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass
class Engine:
    """A connected data engine (create with :func:`connect`).

    Attributes
    ----------
    name : {"duckdb", "spark"}
    backend : ibis backend
        The Ibis connection; any Ibis expression built on tables of this engine runs there.
    """

    name: str
    backend: Any
    _owns: bool = True
    _n: int = field(default=0, repr=False)

    # -- data sources -----------------------------------------------------------------------------
    def read_parquet(self, path: str | Path, *, partition_types: Mapping[str, str] | None = None) -> ir.Table:
        """A lazy table over a Parquet file or (hive-partitioned) folder; nothing is read yet.

        Parameters
        ----------
        path : path
            File, folder, or hive-partitioned folder (see :func:`parquet_files`).
        partition_types : mapping, optional
            Types of partition columns (``"string"`` by default; also ``"int64"``, ``"int32"``,
            ``"int16"``, ``"float64"``, ``"boolean"``, ``"date"``).
        """
        root, files, keys = parquet_files(path)
        types = {k: "string" for k in keys}
        for k, t in dict(partition_types or {}).items():
            if k not in types:
                raise ValueError(f"partition_types: {k!r} is not a partition key of {str(path)!r} (keys: {keys})")
            if t not in _PARTITION_TYPES:
                raise ValueError(f"partition_types[{k!r}] = {t!r}; use one of {sorted(_PARTITION_TYPES)}")
            types[k] = t
        self._n += 1
        name = f"we_parquet_{self._n}"
        if self.name == "duckdb":
            # the explicit file list (not a glob) so that DuckDB and Spark read exactly the same files
            lst = ", ".join(_sql_string(str(f)) for f in files)
            if keys:
                hive = ", ".join(f"{_sql_string(k)}: {_sql_string(_PARTITION_TYPES[t])}" for k, t in types.items())
                sql = f"SELECT * FROM read_parquet([{lst}], hive_partitioning=true, hive_types={{{hive}}})"
            else:
                sql = f"SELECT * FROM read_parquet([{lst}], hive_partitioning=false)"
            with quiet_ibis():
                self.backend.raw_sql(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {sql}')
                return self.backend.table(name)
        import pyarrow.parquet as pq

        schema = ibis.Schema.from_pyarrow(pq.read_schema(files[0]))
        clash = [k for k in keys if k in schema.names]
        if clash:
            raise ValueError(f"{files[0]}: column(s) {clash} are both in the file and partition keys")
        full = ibis.schema({**dict(schema.items()), **types})
        target = str(root) if (keys or len(files) > 1 or Path(path).is_dir()) else str(files[0])
        with quiet_ibis():
            return self.backend.read_parquet_dir(target, table_name=name, schema=full)

    def from_pandas(self, df: pd.DataFrame) -> ir.Table:
        """A table of this engine holding a (small) pandas DataFrame, e.g. the village frame."""
        with quiet_ibis():
            return ibis.memtable(df)

    # -- execution --------------------------------------------------------------------------------
    def execute(self, expr: ir.Table) -> pd.DataFrame:
        """Run an Ibis table expression on this engine and return the result as pandas."""
        with quiet_ibis():
            return self.backend.to_pandas(expr)

    def close(self) -> None:
        """Release the engine (stops a Spark session only if this engine started it)."""
        if self.name == "spark":
            if self._owns:
                self.backend._session.stop()
        else:
            self.backend.disconnect()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    engine: EngineName | str = "duckdb",
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    spark: Any = None,
    spark_conf: Mapping[str, str] | None = None,
) -> Engine:
    """Connect to a data engine.

    Parameters
    ----------
    engine : {"duckdb", "spark"}
        ``"duckdb"`` (default): embedded, in-process, nothing to start. ``"spark"``: Apache Spark through
        PySpark (a local session unless ``spark=`` is given).
    threads : int, optional
        DuckDB worker threads (default: all cores).
    memory_limit : str, optional
        DuckDB memory limit, e.g. ``"2GB"`` (DuckDB spills to disk beyond it).
    spark : SparkSession, optional
        An existing Spark session (e.g. on a cluster); it is not stopped by :meth:`Engine.close`. Without it
        the active session of this process is reused if there is one (and not stopped either), else a local
        session is started (and stopped by :meth:`Engine.close`).
    spark_conf : mapping, optional
        Settings for the local session started when no session is given or active.

    Raises
    ------
    ValueError
        Unknown engine name.
    EngineUnavailableError
        Spark requested but no Java runtime / PySpark.
    """
    if engine == "duckdb":
        cfg: dict[str, Any] = {}
        if threads is not None:
            cfg["threads"] = int(threads)
        if memory_limit is not None:
            cfg["memory_limit"] = str(memory_limit)
        return Engine("duckdb", ibis.duckdb.connect(":memory:", **cfg))
    if engine == "spark":
        if spark is None and java_available():
            from pyspark.sql import SparkSession

            spark = SparkSession.getActiveSession()  # reuse a running session; never stop someone else's
        owns = spark is None
        session = spark_session(conf=spark_conf) if spark is None else spark
        return Engine("spark", ibis.pyspark.connect(session), _owns=owns)
    raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
