"""Alembic environment of the monitoring store (run programmatically by :func:`welfare_eval.monitor.db.upgrade`).

The caller passes an open SQLAlchemy connection in ``config.attributes["connection"]``; the
migrations run inside the caller's transaction. The version table is ``monitor_alembic_version``
so the schema can share a database with other Alembic-managed schemas.
"""

from __future__ import annotations

from alembic import context

from welfare_eval.monitor.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic entry point is supported
    raise RuntimeError(
        "run the monitoring migrations with welfare_eval.monitor.upgrade(url), not the alembic command line"
    )
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
