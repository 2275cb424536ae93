"""A small data set whose every figure in the 2025-26 Q2 return was worked out by hand (see test_figures.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from tracker.extensions import db


@dataclass
class Small:
    year: object
    core: object
    svd: object
    l1: object
    l2: object
    l3: object
    c1: object
    c2: object
    c3: object


def build_small(make, **commission_text) -> Small:
    year = make.year("2025-26")
    core = make.stream("Core grant")
    svd = make.stream("Serious Violence Duty")
    make.allocation(year, core, original_pence=100_000_00, revised_pence=90_000_00)
    make.allocation(year, svd, original_pence=20_000_00, revised_pence=20_000_00)
    staffing = make.category("Staffing", labour=True, sort_order=1)
    services = make.category("Commissioned services", sort_order=2)
    strand = make.strand("Serious Youth Violence")
    l1 = make.budget_line(year, core, services, strand, 60_000_00, (15_000_00,) * 4,
                          original_amount_pence=70_000_00, description="Mentoring")
    l2 = make.budget_line(year, core, staffing, strand, 30_000_00, (7_500_00,) * 4, labour=True, description="Team")
    l3 = make.budget_line(year, svd, services, strand, 20_000_00, (0, 10_000_00, 5_000_00, 5_000_00),
                          description="SVD services")
    c1 = make.commission("VRU-A-001", l1, provider=make.provider(commission_text.get("provider", "Alpha CIC")),
                         title=commission_text.get("title", "Mentoring in schools"), value_pence=24_000_00,
                         status="live", start_date=date(2025, 4, 1), end_date=date(2026, 3, 31))
    c2 = make.commission("VRU-A-002", l3, provider=make.provider("Beta Trust"), title="Detached youth work",
                         value_pence=8_000_00, status="approved", start_date=date(2025, 7, 1), end_date=date(2026, 3, 31))
    c3 = make.commission("VRU-A-003", l1, provider=make.provider("Gamma Ltd"), title="Evaluation",
                         value_pence=12_000_00, status="awarded", start_date=date(2025, 9, 1), end_date=date(2026, 2, 28))
    # C1's spend is split across quarters, with a credit in Q2 and spend in Q3 that a Q2 return must leave out.
    make.ledger_line(date(2025, 5, 15), 6_000_00, commission=c1)
    make.ledger_line(date(2025, 8, 10), 6_000_00, commission=c1)
    make.ledger_line(date(2025, 9, 1), -500_25, commission=c1, transaction_type="credit")
    make.ledger_line(date(2025, 10, 20), 6_000_00, commission=c1)
    make.ledger_line(date(2025, 7, 31), 1_234_56, commission=c2)
    make.ledger_line(date(2025, 6, 30), 7_000_00, budget_line=l2)
    make.ledger_line(date(2025, 9, 30), 7_600_10, budget_line=l2)
    make.ledger_line(date(2025, 4, 30), 99_99)  # not yet assigned to a budget line
    make.milestone("Q1 return sent", due_date=date(2025, 7, 31), funding_year_id=year.id, status="done",
                   completed_date=date(2025, 7, 28), evidence="Emailed to the PCC office")
    make.milestone("Evaluation plan", due_date=date(2025, 9, 30), funding_year_id=year.id, status="in progress")
    make.milestone("Q3 return", due_date=date(2026, 1, 31), funding_year_id=year.id)  # not due by Q2's end
    db.session.commit()
    return Small(year, core, svd, l1, l2, l3, c1, c2, c3)


@pytest.fixture
def small(make) -> Small:
    return build_small(make)
