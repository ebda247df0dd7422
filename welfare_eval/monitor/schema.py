"""The monitoring store's schema (SQLAlchemy 2 Core), the same on SQLite and PostgreSQL.

Tables
------
``village``
    Villages in the study that may report: code, region, province, name, arm, households, and the
    first quarter from which a quarterly report is expected (``first_year``/``first_quarter``;
    NULL = not expected to report).
``submission``
    One row per accepted form: file name, SHA-256 of the file and of its content, form version,
    region, province, reporting period (C.E. ``year``, ``quarter``; ``period_text`` as written, e.g. a
    B.E. ``2569Q3``), ``submitted_on`` (date on the form), ``received_on`` (date the file was
    received), submitting office and position (PII-scrubbed), ``imported_at`` (UTC).
``village_period``
    One row per village and period in a submission, with its ``phase`` (before / during / after).
    ``supersedes_id`` points to the village-period row a correction replaces.
figure tables
    ``workshop``, ``welfare_rule``, ``membership``, ``payout``, ``profit``, ``allocation``,
    ``fund_balance``, ``narrative``: each row belongs to one ``village_period`` (hence to one
    submission), keeps the spreadsheet row it came from (``source_row``) and, when it corrects a
    figure of the version it replaces, the id of that row (``supersedes_id``).

Records are append-only: the migration installs triggers that refuse UPDATE and DELETE on every
table (SQLite ``RAISE(ABORT)``, PostgreSQL a PL/pgSQL trigger function). A correction is a new
submission whose village-period rows supersede the earlier ones; the current state of a period "as
of" a date is the last version received on or before that date (see :mod:`welfare_eval.monitor.queries`).

Money is ``NUMERIC(16, 2)`` (baht with satang), shares ``NUMERIC(7, 3)`` (percent), both read back
as floats; dates are ``DATE``; the import time is a UTC timestamp.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "APPEND_ONLY_TABLES",
    "FIGURE_TABLES",
    "MONEY",
    "NAMING",
    "PHASES",
    "SHARE",
    "VERSION_TABLE",
    "metadata",
]

#: Constraint naming convention (stable names on both dialects, needed by Alembic).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
#: Alembic's version table of this schema.
VERSION_TABLE = "monitor_alembic_version"
#: The programme phases of a village (the three rounds of committee workshops).
PHASES: tuple[str, str, str] = ("before", "during", "after")

MONEY = sa.Numeric(16, 2, asdecimal=False)
SHARE = sa.Numeric(7, 3, asdecimal=False)

metadata = sa.MetaData(naming_convention=NAMING)


def _phase_check(col: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{col} IN ('before', 'during', 'after')", name=name)


village = sa.Table(
    "village",
    metadata,
    sa.Column("village_id", sa.String(8), primary_key=True),
    sa.Column("region", sa.Integer, nullable=False),
    sa.Column("province_code", sa.String(2), nullable=False),
    sa.Column("village_name", sa.Text, nullable=True),
    sa.Column("arm", sa.String(16), nullable=True),
    sa.Column("n_households", sa.Integer, nullable=True),
    sa.Column("first_year", sa.Integer, nullable=True),
    sa.Column("first_quarter", sa.Integer, nullable=True),
    sa.CheckConstraint("first_quarter IS NULL OR first_quarter BETWEEN 1 AND 4", name="first_quarter"),
    sa.CheckConstraint("n_households IS NULL OR n_households >= 0", name="n_households"),
)

submission = sa.Table(
    "submission",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("content_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("form_version", sa.String(16), nullable=False),
    sa.Column("region", sa.Integer, nullable=False),
    sa.Column("province_code", sa.String(2), nullable=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("quarter", sa.Integer, nullable=False),
    sa.Column("period_text", sa.Text, nullable=False),
    sa.Column("submitted_on", sa.Date, nullable=True),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("submitter_office", sa.Text, nullable=True),
    sa.Column("submitter_position", sa.Text, nullable=True),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("n_villages", sa.Integer, nullable=False),
    sa.CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),
)

village_period = sa.Table(
    "village_period",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("submission_id", sa.Integer, sa.ForeignKey("submission.id"), nullable=False, index=True),
    sa.Column("village_id", sa.String(8), sa.ForeignKey("village.village_id"), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("quarter", sa.Integer, nullable=False),
    sa.Column("phase", sa.String(8), nullable=False),
    sa.Column("source_row", sa.Integer, nullable=True),
    sa.Column("supersedes_id", sa.Integer, sa.ForeignKey("village_period.id"), nullable=True, unique=True),
    sa.CheckConstraint("quarter BETWEEN 1 AND 4", name="quarter"),
    _phase_check("phase", "phase"),
    sa.Index("ix_village_period_village_year_quarter", "village_id", "year", "quarter"),
)


def _figure(name: str, *columns: sa.Column, checks: tuple[sa.CheckConstraint, ...] = ()) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "village_period_id", sa.Integer, sa.ForeignKey("village_period.id"), nullable=False, index=True
        ),
        sa.Column("source_row", sa.Integer, nullable=True),
        sa.Column("supersedes_id", sa.Integer, sa.ForeignKey(f"{name}.id"), nullable=True, unique=True),
        *columns,
        *checks,
    )


workshop = _figure(
    "workshop",
    sa.Column("phase", sa.String(8), nullable=False),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("participants", sa.Integer, nullable=False),
    sa.Column("committee_members", sa.Integer, nullable=True),
    checks=(
        _phase_check("phase", "phase"),
        sa.CheckConstraint("participants >= 0", name="participants"),
        sa.CheckConstraint("committee_members IS NULL OR committee_members >= 0", name="committee"),
    ),
)
welfare_rule = _figure(
    "welfare_rule",
    sa.Column("welfare_type", sa.String(32), nullable=False),
    sa.Column("offered", sa.Boolean, nullable=False),
    sa.Column("launched_on", sa.Date, nullable=True),
    sa.Column("benefit_amount", MONEY, nullable=True),
    sa.Column("benefit_basis", sa.String(8), nullable=True),
    sa.Column("eligibility", sa.Text, nullable=True),
    sa.Column("waiting_months", sa.Integer, nullable=True),
    sa.Column("min_age", sa.Integer, nullable=True),
    sa.Column("max_age", sa.Integer, nullable=True),
    checks=(
        sa.CheckConstraint("benefit_amount IS NULL OR benefit_amount >= 0", name="amount"),
        sa.CheckConstraint("waiting_months IS NULL OR waiting_months >= 0", name="waiting"),
    ),
)
membership = _figure(
    "membership",
    sa.Column("organisation", sa.String(32), nullable=False),
    sa.Column("members", sa.Integer, nullable=False),
    sa.Column("households", sa.Integer, nullable=True),
    checks=(sa.CheckConstraint("members >= 0", name="members"),),
)
payout = _figure(
    "payout",
    sa.Column("welfare_type", sa.String(32), nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("amount", MONEY, nullable=False),
    checks=(
        sa.CheckConstraint("cases >= 0", name="cases"),
        sa.CheckConstraint("amount >= 0", name="amount"),
    ),
)
profit = _figure(
    "profit",
    sa.Column("organisation", sa.String(32), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("profit", MONEY, nullable=False),
)
allocation = _figure(
    "allocation",
    sa.Column("organisation", sa.String(32), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("share_pct", SHARE, nullable=False),
    sa.Column("amount", MONEY, nullable=True),
    checks=(sa.CheckConstraint("share_pct >= 0 AND share_pct <= 100", name="share"),),
)
fund_balance = _figure(
    "fund_balance",
    sa.Column("opening", MONEY, nullable=False),
    sa.Column("income", MONEY, nullable=False),
    sa.Column("payouts", MONEY, nullable=False),
    sa.Column("closing", MONEY, nullable=False),
    checks=(
        sa.CheckConstraint("opening >= 0 AND income >= 0 AND payouts >= 0 AND closing >= 0", name="non_negative"),
    ),
)
narrative = _figure(
    "narrative",
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

#: Figure tables (each row belongs to one village-period).
FIGURE_TABLES: tuple[str, ...] = (
    "workshop",
    "welfare_rule",
    "membership",
    "payout",
    "profit",
    "allocation",
    "fund_balance",
    "narrative",
)
#: Every table guarded by the append-only triggers.
APPEND_ONLY_TABLES: tuple[str, ...] = ("village", "submission", "village_period", *FIGURE_TABLES)
