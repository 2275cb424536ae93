"""Contract events: a contract's life (entered, awarded, live, varied, ended, terminated) as rows with the date each
takes effect, instead of being rebuilt from the audit trail's JSON. Today's history moves in: every status change
in the audit trail (effective the day it was recorded, the only date known), every variation (effective the date
agreed) and, for each contract, the status it was entered with.

Revision ID: i19_events_contract_events
Revises: i19_outputs_funding_year
"""
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision = "i19_events_contract_events"
down_revision = "i19_outputs_funding_year"
branch_labels = None
depends_on = None

STATUSES = ("pipeline", "approved", "procuring", "awarded", "live", "ended", "terminated")
MOVED = "Moved from the audit trail: takes effect the day it was recorded."


def upgrade():
    op.create_table(
        "contract_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commission_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("variation_id", sa.Integer(), nullable=True),
        sa.Column("value_before_pence", sa.BigInteger(), nullable=True),
        sa.Column("value_after_pence", sa.BigInteger(), nullable=True),
        sa.Column("end_date_before", sa.Date(), nullable=True),
        sa.Column("end_date_after", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["commission_id"], ["commissions.id"],
                                name=op.f("fk_contract_events_commission_id_commissions")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"], name=op.f("fk_contract_events_recorded_by_id_users")),
        sa.ForeignKeyConstraint(["variation_id"], ["variations.id"],
                                name=op.f("fk_contract_events_variation_id_variations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_events")),
    )
    with op.batch_alter_table("contract_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_events_commission_id"), ["commission_id"], unique=False)
    move_history(op.get_bind())


def _date(value) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _pence(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def move_history(bind) -> None:
    """Today's history of each contract, from the audit trail and the variations, as events."""
    audit = sa.table("audit_events", sa.column("id"), sa.column("created_at", sa.DateTime), sa.column("user_id"),
                     sa.column("kind"), sa.column("object_type"), sa.column("object_id"),
                     sa.column("before", sa.JSON), sa.column("after", sa.JSON))
    commissions = sa.table("commissions", sa.column("id"), sa.column("status"), sa.column("created_at", sa.DateTime))
    variations = sa.table("variations", sa.column("id"), sa.column("commission_id"),
                          sa.column("variation_date", sa.Date), sa.column("reason"), sa.column("previous_end_date", sa.Date),
                          sa.column("new_end_date", sa.Date), sa.column("recorded_by_id"),
                          sa.column("created_at", sa.DateTime))
    events = sa.table("contract_events", *(sa.column(c) for c in (
        "commission_id", "kind", "from_status", "effective_date", "recorded_by_id", "recorded_at", "note",
        "variation_id", "value_before_pence", "value_after_pence", "end_date_before", "end_date_after")))
    existing = {cid: (status, created) for cid, status, created in bind.execute(
        sa.select(commissions.c.id, commissions.c.status, commissions.c.created_at))}
    rows, entered, first_from, varied = [], set(), {}, {}
    for _id, created, user_id, kind, object_id, before, after in bind.execute(
            sa.select(audit.c.id, audit.c.created_at, audit.c.user_id, audit.c.kind, audit.c.object_id,
                      audit.c.before, audit.c.after)
            .where(audit.c.object_type == "Commission").order_by(audit.c.created_at, audit.c.id)):
        if object_id not in existing or not isinstance(after, dict):
            continue
        before = before if isinstance(before, dict) else {}
        base = dict(commission_id=object_id, recorded_by_id=user_id, recorded_at=created, variation_id=None,
                    value_before_pence=None, value_after_pence=None, end_date_before=None, end_date_after=None)
        if kind == "create" and after.get("status") in STATUSES and object_id not in entered:
            entered.add(object_id)
            rows.append({**base, "kind": after["status"], "from_status": None, "effective_date": _date(created),
                         "note": f"Entered as {after['status']}."})
        elif kind == "change" and "_effective" in before and ("value_pence" in after or "end_date" in after):
            varied.setdefault(object_id, []).append((before, after))  # a variation: paired with its row below
        elif kind == "change" and after.get("status") in STATUSES and before.get("status") in STATUSES:
            first_from.setdefault(object_id, before["status"])
            rows.append({**base, "kind": after["status"], "from_status": before["status"],
                         "effective_date": _date(created), "note": MOVED})
    for cid, (status, created) in existing.items():
        if cid not in entered:  # no record of its entry: it started with the status before its first change
            rows.append(dict(commission_id=cid, kind=first_from.get(cid, status), from_status=None,
                             effective_date=_date(created) or date.today(), recorded_by_id=None,
                             recorded_at=created or datetime.now(), note="Entered before events were kept.",
                             variation_id=None, value_before_pence=None, value_after_pence=None,
                             end_date_before=None, end_date_after=None))
    taken: dict[int, int] = {}
    for vid, cid, agreed, reason, previous_end, new_end, user_id, created in bind.execute(
            sa.select(variations.c.id, variations.c.commission_id, variations.c.variation_date, variations.c.reason,
                      variations.c.previous_end_date, variations.c.new_end_date, variations.c.recorded_by_id,
                      variations.c.created_at).order_by(variations.c.created_at, variations.c.id)):
        if cid not in existing:
            continue
        n = taken.get(cid, 0)
        taken[cid] = n + 1
        trail = varied.get(cid, [])
        before, after = trail[n] if n < len(trail) else ({}, {})
        rows.append(dict(commission_id=cid, kind="varied", from_status=None, effective_date=_date(agreed),
                         recorded_by_id=user_id, recorded_at=created or datetime.now(), note=reason or "",
                         variation_id=vid, value_before_pence=_pence(before.get("value_pence")),
                         value_after_pence=_pence(after.get("value_pence")),
                         end_date_before=_date(previous_end) if new_end else None,
                         end_date_after=_date(new_end)))
    if rows:
        bind.execute(events.insert(), rows)


def downgrade():
    with op.batch_alter_table("contract_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_events_commission_id"))
    op.drop_table("contract_events")
