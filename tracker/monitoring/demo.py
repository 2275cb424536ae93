"""Demo outputs: measures, targets and actuals for the demo year's commissions, so the outputs grid, the home
page chart, the due list and the off-track filter have something to show. Deterministic and idempotent."""
from __future__ import annotations

import random
from datetime import date

from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Commission, FundingYear
from tracker.models.monitoring import Measure, Metric, QuarterNarrative
from tracker.monitoring import service
from tracker.periods import quarter_bounds

NARRATIVES = [
    "Delivery on plan. Referrals from schools picked up after the summer term.",
    "Two sessions cancelled because of venue problems; made up in the following month.",
    "Staff vacancy slowed engagement; a new youth worker started at the end of the quarter.",
]


def seed_demo_outputs(year: FundingYear, today: date | None = None) -> None:
    """Measures for the year's delivering commissions, with actuals for quarters that have ended (one quarter
    left blank here and there, so the monitoring due list is not empty)."""
    today = today or date.today()
    if db.session.scalar(select(Measure.id).where(Measure.funding_year_id == year.id).limit(1)):
        return
    service.seed_standard_metrics()
    metrics = {m.code: m for m in db.session.scalars(select(Metric).where(Metric.code.is_not(None)))}
    rng = random.Random(9)
    commissions = db.session.scalars(
        select(Commission).where(Commission.funding_year_id == year.id,
                                 Commission.status.in_(service.REPORTING_STATUSES)).order_by(Commission.reference)).all()
    for n, c in enumerate(commissions):
        cyp = rng.randint(10, 40)
        plan = {"referrals_received": cyp + rng.randint(5, 15), "cyp_engaged": cyp,
                "cyp_completed": max(1, cyp * 2 // 3), "sessions_delivered": rng.randint(8, 30)}
        for code, per_quarter in plan.items():
            measure = service.add_measure(c, year, metrics[code], targets=(per_quarter,) * 4)
            for q in service.QUARTERS:
                start, end = quarter_bounds(year.label, q)
                if end >= today or c.start_date > end or c.end_date < start or (n % 5 == 4 and q == 2):
                    continue
                # Most deliver close to target; every fourth runs well short in its latest quarters.
                factor = rng.uniform(0.55, 0.8) if n % 4 == 3 and q >= 2 else rng.uniform(0.97, 1.2)
                service.set_actual(measure, q, int(per_quarter * factor))
        for q in service.QUARTERS:
            if quarter_bounds(year.label, q)[1] < today and not (n % 5 == 4 and q == 2):
                db.session.add(QuarterNarrative(commission_id=c.id, funding_year_id=year.id, quarter=q,
                                                text=NARRATIVES[(n + q) % 3]))
    db.session.flush()
