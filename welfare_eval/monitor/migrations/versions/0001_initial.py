"""Initial monitoring schema: villages, submissions, village-periods, figure tables, append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The tables are written out here (not imported from :mod:`welfare_eval.monitor.schema`) so that this
migration stays what it was when later revisions change the schema; a test checks that the migrated
database matches the schema module.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: Tables guarded against UPDATE and DELETE (records are append-only).
APPEND_ONLY = (
    "village",
    "submission",
    "village_period",
    "workshop",
    "welfare_rule",
    "membership",
    "payout",
    "profit",
    "allocation",
    "fund_balance",
    "narrative",
)


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for t in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {t}_no_{action.lower()} BEFORE {action} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, 'monitoring table {t} is append-only: "
                    f"corrections are new submissions'); END"
                )
    elif dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION monitor_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'monitoring table % is append-only: corrections are new submissions', "
            "TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        for t in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION monitor_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION monitor_append_only()"
            )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"the monitoring store supports SQLite and PostgreSQL, not {dialect}")


def upgrade() -> None:
    op.create_table(
        "submission",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.String(length=16), nullable=False),
        sa.Column("region", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("period_text", sa.Text(), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("submitter_office", sa.Text(), nullable=True),
        sa.Column("submitter_position", sa.Text(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_villages", sa.Integer(), nullable=False),
        sa.CheckConstraint("quarter BETWEEN 1 AND 4", name=op.f("ck_submission_quarter")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission")),
        sa.UniqueConstraint("file_sha256", name=op.f("uq_submission_file_sha256")),
    )
    op.create_index(op.f("ix_submission_content_sha256"), "submission", ["content_sha256"], unique=False)
    op.create_table(
        "village",
        sa.Column("village_id", sa.String(length=8), nullable=False),
        sa.Column("region", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("village_name", sa.Text(), nullable=True),
        sa.Column("arm", sa.String(length=16), nullable=True),
        sa.Column("n_households", sa.Integer(), nullable=True),
        sa.Column("first_year", sa.Integer(), nullable=True),
        sa.Column("first_quarter", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "first_quarter IS NULL OR first_quarter BETWEEN 1 AND 4", name=op.f("ck_village_first_quarter")
        ),
        sa.CheckConstraint("n_households IS NULL OR n_households >= 0", name=op.f("ck_village_n_households")),
        sa.PrimaryKeyConstraint("village_id", name=op.f("pk_village")),
    )
    op.create_table(
        "village_period",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.String(length=8), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("phase IN ('before', 'during', 'after')", name=op.f("ck_village_period_phase")),
        sa.CheckConstraint("quarter BETWEEN 1 AND 4", name=op.f("ck_village_period_quarter")),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("fk_village_period_submission_id_submission")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["village_period.id"],
            name=op.f("fk_village_period_supersedes_id_village_period"),
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["village.village_id"], name=op.f("fk_village_period_village_id_village")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_village_period")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_village_period_supersedes_id")),
    )
    op.create_index(
        op.f("ix_village_period_submission_id"), "village_period", ["submission_id"], unique=False
    )
    op.create_index(
        "ix_village_period_village_year_quarter",
        "village_period",
        ["village_id", "year", "quarter"],
        unique=False,
    )
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("organisation", sa.String(length=32), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("share_pct", sa.Numeric(precision=7, scale=3, asdecimal=False), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=True),
        sa.CheckConstraint("share_pct >= 0 AND share_pct <= 100", name=op.f("ck_allocation_share")),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["allocation.id"], name=op.f("fk_allocation_supersedes_id_allocation")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_allocation_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_allocation_supersedes_id")),
    )
    op.create_index(
        op.f("ix_allocation_village_period_id"), "allocation", ["village_period_id"], unique=False
    )
    op.create_table(
        "fund_balance",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("opening", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=False),
        sa.Column("income", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=False),
        sa.Column("payouts", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=False),
        sa.Column("closing", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=False),
        sa.CheckConstraint(
            "opening >= 0 AND income >= 0 AND payouts >= 0 AND closing >= 0",
            name=op.f("ck_fund_balance_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["fund_balance.id"], name=op.f("fk_fund_balance_supersedes_id_fund_balance")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_fund_balance_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fund_balance")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_fund_balance_supersedes_id")),
    )
    op.create_index(
        op.f("ix_fund_balance_village_period_id"), "fund_balance", ["village_period_id"], unique=False
    )
    op.create_table(
        "membership",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("organisation", sa.String(length=32), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.CheckConstraint("members >= 0", name=op.f("ck_membership_members")),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["membership.id"], name=op.f("fk_membership_supersedes_id_membership")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_membership_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_membership_supersedes_id")),
    )
    op.create_index(
        op.f("ix_membership_village_period_id"), "membership", ["village_period_id"], unique=False
    )
    op.create_table(
        "narrative",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["narrative.id"], name=op.f("fk_narrative_supersedes_id_narrative")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_narrative_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_narrative")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_narrative_supersedes_id")),
    )
    op.create_index(op.f("ix_narrative_village_period_id"), "narrative", ["village_period_id"], unique=False)
    op.create_table(
        "payout",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("welfare_type", sa.String(length=32), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_payout_amount")),
        sa.CheckConstraint("cases >= 0", name=op.f("ck_payout_cases")),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["payout.id"], name=op.f("fk_payout_supersedes_id_payout")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_payout_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_payout_supersedes_id")),
    )
    op.create_index(op.f("ix_payout_village_period_id"), "payout", ["village_period_id"], unique=False)
    op.create_table(
        "profit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("organisation", sa.String(length=32), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("profit", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["profit.id"], name=op.f("fk_profit_supersedes_id_profit")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_profit_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profit")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_profit_supersedes_id")),
    )
    op.create_index(op.f("ix_profit_village_period_id"), "profit", ["village_period_id"], unique=False)
    op.create_table(
        "welfare_rule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("welfare_type", sa.String(length=32), nullable=False),
        sa.Column("offered", sa.Boolean(), nullable=False),
        sa.Column("launched_on", sa.Date(), nullable=True),
        sa.Column("benefit_amount", sa.Numeric(precision=16, scale=2, asdecimal=False), nullable=True),
        sa.Column("benefit_basis", sa.String(length=8), nullable=True),
        sa.Column("eligibility", sa.Text(), nullable=True),
        sa.Column("waiting_months", sa.Integer(), nullable=True),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("max_age", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "benefit_amount IS NULL OR benefit_amount >= 0", name=op.f("ck_welfare_rule_amount")
        ),
        sa.CheckConstraint(
            "waiting_months IS NULL OR waiting_months >= 0", name=op.f("ck_welfare_rule_waiting")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["welfare_rule.id"], name=op.f("fk_welfare_rule_supersedes_id_welfare_rule")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_welfare_rule_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_welfare_rule")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_welfare_rule_supersedes_id")),
    )
    op.create_index(
        op.f("ix_welfare_rule_village_period_id"), "welfare_rule", ["village_period_id"], unique=False
    )
    op.create_table(
        "workshop",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("village_period_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("committee_members", sa.Integer(), nullable=True),
        sa.CheckConstraint("phase IN ('before', 'during', 'after')", name=op.f("ck_workshop_phase")),
        sa.CheckConstraint(
            "committee_members IS NULL OR committee_members >= 0", name=op.f("ck_workshop_committee")
        ),
        sa.CheckConstraint("participants >= 0", name=op.f("ck_workshop_participants")),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["workshop.id"], name=op.f("fk_workshop_supersedes_id_workshop")
        ),
        sa.ForeignKeyConstraint(
            ["village_period_id"],
            ["village_period.id"],
            name=op.f("fk_workshop_village_period_id_village_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workshop")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_workshop_supersedes_id")),
    )
    op.create_index(op.f("ix_workshop_village_period_id"), "workshop", ["village_period_id"], unique=False)

    _append_only_triggers()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for t in reversed(APPEND_ONLY):
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_delete")
        op.drop_table(t)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS monitor_append_only()")
