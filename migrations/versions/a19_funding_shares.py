"""Funding shares: a contract's money by funding year and budget line; roll-over copies become shares again.

Each commission's value on its budget line becomes one funding share of its year. The records the old roll-over
made (``REFERENCE/2026-27``, linked by ``rolled_from_id``) are folded back into the contract they came from: their
value becomes that contract's share of the later year, the "Rolled over" variation that took it off the original
is removed (the legal contract never changed), and their ledger lines, measures and actuals, narratives,
milestones, documents, monitoring returns, variations and supplier choices move across. A copy whose delivery
records would collide with the original's (an actual or narrative for the same quarter in both) is kept as its
own contract, with its share, and named in the migration's output, so that nothing is lost.

Revision ID: a19_funding_shares
Revises: c10c31be8654
"""
from alembic import op
import sqlalchemy as sa

revision = "a19_funding_shares"
down_revision = "c10c31be8654"
branch_labels = None
depends_on = None

MOVE_TABLES = ("ledger_transactions", "milestones", "documents", "monitoring_returns", "supplier_aliases", "variations")


def upgrade():
    op.create_table(
        "funding_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commission_id", sa.Integer(), nullable=False),
        sa.Column("year_label", sa.String(length=7), nullable=False),
        sa.Column("funding_year_id", sa.Integer(), nullable=True),
        sa.Column("funding_stream_id", sa.Integer(), nullable=True),
        sa.Column("budget_line_id", sa.Integer(), nullable=True),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["budget_line_id"], ["budget_lines.id"], name=op.f("fk_funding_shares_budget_line_id_budget_lines")),
        sa.ForeignKeyConstraint(["commission_id"], ["commissions.id"], name=op.f("fk_funding_shares_commission_id_commissions")),
        sa.ForeignKeyConstraint(["funding_stream_id"], ["funding_streams.id"], name=op.f("fk_funding_shares_funding_stream_id_funding_streams")),
        sa.ForeignKeyConstraint(["funding_year_id"], ["funding_years.id"], name=op.f("fk_funding_shares_funding_year_id_funding_years")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_shares")),
    )
    with op.batch_alter_table("funding_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_shares_budget_line_id"), ["budget_line_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_funding_shares_commission_id"), ["commission_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_funding_shares_funding_year_id"), ["funding_year_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_funding_shares_year_label"), ["year_label"], unique=False)
    with op.batch_alter_table("budget_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_override_pence", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("planned_override_reason", sa.Text(), nullable=False, server_default=""))

    _move_money_into_shares(op.get_bind())

    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commissions_budget_line_id"))
        batch_op.drop_constraint(batch_op.f("fk_commissions_budget_line_id_budget_lines"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_commissions_rolled_from_id_commissions"), type_="foreignkey")
        batch_op.drop_column("budget_line_id")
        batch_op.drop_column("rolled_from_id")


def _move_money_into_shares(conn) -> None:
    q = lambda sql, **kw: conn.execute(sa.text(sql), kw)  # noqa: E731
    years = dict(q("SELECT id, label FROM funding_years").all())
    line_stream = dict(q("SELECT id, funding_stream_id FROM budget_lines").all())
    commissions = q("SELECT id, reference, funding_year_id, budget_line_id, value_pence, rolled_from_id, end_date, "
                    "status, end_decision FROM commissions ORDER BY id").mappings().all()
    for c in commissions:
        q("INSERT INTO funding_shares (commission_id, year_label, funding_year_id, funding_stream_id, budget_line_id, "
          "amount_pence) VALUES (:c, :label, :year, :stream, :line, :amount)",
          c=c["id"], label=years[c["funding_year_id"]], year=c["funding_year_id"],
          stream=line_stream.get(c["budget_line_id"]), line=c["budget_line_id"], amount=c["value_pence"])

    by_id = {c["id"]: dict(c) for c in commissions}
    root_of: dict[int, int] = {}
    for copy in (c for c in commissions if c["rolled_from_id"] is not None):
        parent = copy["rolled_from_id"]
        root = root_of.get(parent, parent)
        if root not in by_id:
            continue
        if _collides(q, copy["id"], root):
            print(f"  kept {copy['reference']} as its own contract: its delivery records for a quarter collide "
                  f"with {by_id[root]['reference']}'s")
            continue
        root_of[copy["id"]] = root
        # The variation the old roll-over recorded on the parent took exactly this copy's value off it.
        rolled = q("SELECT id FROM variations WHERE commission_id = :p AND reason LIKE :pattern",
                   p=parent, pattern=f"Rolled over:%as {copy['reference']}.").all()
        value = by_id[root]["value_pence"]
        if rolled:
            q("DELETE FROM variations WHERE id IN (" + ",".join(str(r[0]) for r in rolled) + ")")
            value += copy["value_pence"]
        else:
            # From a closed year the old roll-over left the parent whole: its own year keeps what is left.
            q("UPDATE funding_shares SET amount_pence = CASE WHEN amount_pence > :v THEN amount_pence - :v ELSE 0 END "
              "WHERE commission_id = :p AND funding_year_id = :y", v=copy["value_pence"], p=parent,
              y=by_id[parent]["funding_year_id"])
        later = copy["end_date"] >= by_id[root]["end_date"]
        q("UPDATE commissions SET value_pence = :v, end_date = :end, status = :status, end_decision = :decision "
          "WHERE id = :root", v=value, end=max(copy["end_date"], by_id[root]["end_date"]),
          status=copy["status"] if later else by_id[root]["status"],
          decision=copy["end_decision"] if later else by_id[root]["end_decision"], root=root)
        by_id[root].update(value_pence=value, end_date=max(copy["end_date"], by_id[root]["end_date"]))
        q("UPDATE funding_shares SET commission_id = :root WHERE commission_id = :copy", root=root, copy=copy["id"])
        for table in MOVE_TABLES:
            q(f"UPDATE {table} SET commission_id = :root WHERE commission_id = :copy", root=root, copy=copy["id"])
        _move_delivery(q, copy["id"], root)
        q("UPDATE commissions SET rolled_from_id = NULL WHERE rolled_from_id = :copy", copy=copy["id"])
        q("DELETE FROM commissions WHERE id = :copy", copy=copy["id"])


def _collides(q, copy_id: int, root_id: int) -> bool:
    """True when moving the copy's actuals or narratives onto the original would put two in one quarter."""
    clash = q("SELECT 1 FROM measures a JOIN measures b ON a.metric_id = b.metric_id "
              "JOIN measure_actuals x ON x.measure_id = a.id JOIN measure_actuals y ON y.measure_id = b.id "
              "AND y.quarter = x.quarter WHERE a.commission_id = :copy AND b.commission_id = :root",
              copy=copy_id, root=root_id).first()
    clash = clash or q("SELECT 1 FROM quarter_narratives a JOIN quarter_narratives b ON a.quarter = b.quarter "
                       "WHERE a.commission_id = :copy AND b.commission_id = :root", copy=copy_id, root=root_id).first()
    return bool(clash)


def _move_delivery(q, copy_id: int, root_id: int) -> None:
    """Measures, their actuals and the quarter narratives, with no two for one metric or quarter (checked first)."""
    root_measures = dict(q("SELECT metric_id, id FROM measures WHERE commission_id = :r", r=root_id).all())
    for measure_id, metric_id in q("SELECT id, metric_id FROM measures WHERE commission_id = :c", c=copy_id).all():
        if metric_id in root_measures:
            q("UPDATE measure_actuals SET measure_id = :to WHERE measure_id = :m", to=root_measures[metric_id], m=measure_id)
            q("DELETE FROM measures WHERE id = :m", m=measure_id)
        else:
            q("UPDATE measures SET commission_id = :r WHERE id = :m", r=root_id, m=measure_id)
    q("UPDATE quarter_narratives SET commission_id = :r WHERE commission_id = :c", r=root_id, c=copy_id)


def downgrade():
    with op.batch_alter_table("commissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rolled_from_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("budget_line_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_commissions_rolled_from_id_commissions"), "commissions", ["rolled_from_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_commissions_budget_line_id_budget_lines"), "budget_lines", ["budget_line_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_commissions_budget_line_id"), ["budget_line_id"], unique=False)
    # Each contract goes back to its line of its own year (the largest share there); later years' shares are lost.
    op.execute("UPDATE commissions SET budget_line_id = (SELECT s.budget_line_id FROM funding_shares s "
               "WHERE s.commission_id = commissions.id AND s.funding_year_id = commissions.funding_year_id "
               "ORDER BY s.amount_pence DESC LIMIT 1)")
    with op.batch_alter_table("budget_lines", schema=None) as batch_op:
        batch_op.drop_column("planned_override_reason")
        batch_op.drop_column("planned_override_pence")
    with op.batch_alter_table("funding_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_shares_year_label"))
        batch_op.drop_index(batch_op.f("ix_funding_shares_funding_year_id"))
        batch_op.drop_index(batch_op.f("ix_funding_shares_commission_id"))
        batch_op.drop_index(batch_op.f("ix_funding_shares_budget_line_id"))
    op.drop_table("funding_shares")
