"""A realistic, fictional demo for a VRU like Kent's, set in the years around the day it runs: the year containing
today is open with its budget lines, contracts and spend to date; last year is closed with its Q4 return issued;
next year is a draft rolled over from this one (its lines ready for contracts' shares).

The demo was drawn up for 2025-26; every date is moved by whole years to the year containing ``today``, and nothing
is recorded as done, paid or spent after ``today``. Idempotent: running it again changes nothing. Deterministic:
the same data for the same day (a seeded random). The providers, references and PO numbers match the sample
spreadsheets in ../shared/samples, so the sample ledger and register import against a demo run in 2025-26 as they
would against a real register.
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from tracker.auth.passwords import hash_password
from tracker.extensions import db
from tracker.models import (
    ADMIN, FINANCE, MANAGER, VIEWER, Allocation, BudgetLine, Category, FundingStream, FundingYear,
    LedgerTransaction, Milestone, Strand, User,
)
from tracker.commissions.service import create_commission, create_provider
from tracker.funding.rules import year_by_label
from tracker.periods import label_for, label_for_start, parse_label, period_of, quarter_bounds, quarter_of, year_bounds
from tracker import settings

STRANDS = [
    ("Sexual Violence", "Preventing sexual violence and harassment, including violence against women and girls."),
    ("Serious Youth Violence", "Serious violence involving people under 25, including knife crime."),
    ("Drugs and Alcohol", "Violence linked to drugs and alcohol."),
    ("Cross-cutting", "Work that serves all three strands."),
]
CATEGORIES = [
    ("Staffing", True), ("Commissioned services", False), ("Evaluation", False), ("Data and analysis", False),
    ("Communications and campaigns", False), ("Training", False), ("Young Futures Panel", True), ("Overheads", False),
]
STREAMS = [
    # name, funder, labour split, allocation 2025-26 (pounds)
    ("Home Office VRU core grant", "Home Office", False, 1_370_000),
    ("Serious Violence Duty", "Home Office", True, 235_000),
    ("Young Futures", "Home Office", False, 200_000),
    ("PCC contribution", "Kent PCC", False, 75_000),
]
# stream, category, strand, labour, amount (pounds), Q1-Q4 profile (pounds): the sample budget, plus training.
BUDGET_LINES = [
    ("Home Office VRU core grant", "Staffing", "Cross-cutting", True, 420000, (84000, 105000, 105000, 126000)),
    ("Home Office VRU core grant", "Commissioned services", "Serious Youth Violence", False, 610000, (122000, 152500, 152500, 183000)),
    ("Home Office VRU core grant", "Commissioned services", "Sexual Violence", False, 180000, (36000, 45000, 45000, 54000)),
    ("Home Office VRU core grant", "Data and analysis", "Cross-cutting", False, 60000, (12000, 15000, 15000, 18000)),
    ("Home Office VRU core grant", "Communications and campaigns", "Sexual Violence", False, 35000, (7000, 8750, 8750, 10500)),
    ("Home Office VRU core grant", "Evaluation", "Cross-cutting", False, 45000, (9000, 11250, 11250, 13500)),
    ("Home Office VRU core grant", "Training", "Cross-cutting", False, 20000, (5000, 5000, 5000, 5000)),
    ("Young Futures", "Young Futures Panel", "Serious Youth Violence", True, 120000, (24000, 30000, 30000, 36000)),
    ("Young Futures", "Commissioned services", "Serious Youth Violence", False, 80000, (16000, 20000, 20000, 24000)),
    ("Serious Violence Duty", "Staffing", "Cross-cutting", True, 95000, (19000, 23750, 23750, 28500)),
    ("Serious Violence Duty", "Commissioned services", "Drugs and Alcohol", False, 140000, (28000, 35000, 35000, 42000)),
    ("PCC contribution", "Commissioned services", "Drugs and Alcohol", False, 75000, (15000, 18750, 18750, 22500)),
]
PROVIDERS = [
    # name, supplier id, charity no, company no, vcse, sme
    ("Medway Youth Mentoring CIC", "SUP1001", "", "11873402", True, True),
    ("North Kent Sports Trust", "SUP1002", "1169823", "", True, True),
    ("Safer Streets Kent Ltd", "SUP1003", "", "09823115", False, True),
    ("Harbourside Family Support", "SUP1004", "1152230", "", True, True),
    ("Weald Recovery Partnership", "SUP1005", "1187734", "", True, True),
    ("Thanet Detached Youth Work", "SUP1006", "1098821", "", True, True),
    ("Respect & Relationships Education CIC", "SUP1007", "", "12455671", True, True),
    ("A&E Navigators Kent", "SUP1008", "1176002", "", True, False),
    ("Kent Trauma-Informed Schools Network", "SUP1009", "", "10998732", False, True),
    ("Swale Boxing Academy", "SUP1010", "1130098", "", True, True),
    ("Gravesham Mediation Service", "SUP1011", "1080045", "", True, True),
    ("Ashford Night Safety Volunteers", "SUP1012", "1191187", "", True, True),
]


@dataclass
class DemoCommission:
    reference: str
    title: str
    provider: str
    strand: str
    stream: str
    category: str
    route: str
    value: int  # pounds
    start: date
    end: date
    status: str
    po: str
    manager: str


def _moved(d: date, years: int) -> date:
    """``d`` moved by whole years (the demo has no 29 February)."""
    return d.replace(year=d.year + years)


def _commissions(shift: int = 0, today: date | None = None) -> list[DemoCommission]:
    """The demo's contracts, moved ``shift`` years on; a contract is not yet ended (or started) on ``today``."""
    out = []
    for dc in _commissions_2025():
        dc.start, dc.end = _moved(dc.start, shift), _moved(dc.end, shift)
        if today is not None and dc.status in ("ended", "terminated") and dc.end > today:
            dc.status = "live" if dc.start <= today else "awarded"
        if today is not None and dc.status == "live" and dc.start > today:
            dc.status = "awarded"
        out.append(dc)
    return out


def _commissions_2025() -> list[DemoCommission]:
    y0, y1 = date(2025, 4, 1), date(2026, 3, 31)
    # The programme lead is the demo manager's account, so their commissions' tasks are theirs by default.
    officer, lead = "VRU Commissioning Officer", "Morgan Manager"
    core, svd, yf, pcc = (s[0] for s in STREAMS)
    cs = "Commissioned services"
    rows = [
        ("VRU-25-001", "Night-time economy safety", "Medway Youth Mentoring CIC", "Sexual Violence", core, cs, "Direct award", 48000, y0, y1, "live", "PO4500100", officer),
        ("VRU-25-002", "Drug and alcohol early help", "North Kent Sports Trust", "Serious Youth Violence", yf, cs, "Open tender", 30000, date(2026, 1, 1), date(2026, 12, 31), "pipeline", "PO4500101", lead),
        ("VRU-25-003", "Family support for young people on the edge of care", "Safer Streets Kent Ltd", "Drugs and Alcohol", svd, cs, "Open tender", 62000, y0, y1, "live", "PO4500102", lead),
        ("VRU-25-004", "Mentoring for 10-17s at risk of exclusion", "Harbourside Family Support", "Cross-cutting", pcc, cs, "Light-touch", 38000, y0, y1, "live", "PO4500103", officer),
        ("VRU-25-005", "Trauma-informed practice training", "Weald Recovery Partnership", "Sexual Violence", core, "Training", "Direct award", 16000, date(2025, 9, 1), y1, "procuring", "PO4500104", lead),
        ("VRU-25-006", "Young Futures Panel coordination", "Thanet Detached Youth Work", "Serious Youth Violence", core, cs, "Open tender", 74250, y0, y1, "live", "PO4500105", officer),
        ("VRU-25-007", "Young Futures Panel coordination (Medway)", "Respect & Relationships Education CIC", "Drugs and Alcohol", svd, cs, "Framework call-off", 41500, y0, y1, "live", "PO4500106", officer),
        ("VRU-25-008", "Family support for young people on the edge of care (Thanet)", "A&E Navigators Kent", "Cross-cutting", pcc, cs, "Grant", 21250, y0, y1, "live", "PO4500107", lead),
        ("VRU-25-009", "Mentoring in schools", "Kent Trauma-Informed Schools Network", "Sexual Violence", core, cs, "Quotation", 40300, date(2025, 10, 1), date(2026, 9, 30), "procuring", "PO4500108", officer),
        ("VRU-25-010", "Sports-based diversion", "Swale Boxing Academy", "Serious Youth Violence", yf, cs, "Quotation", 19450, date(2026, 1, 1), date(2026, 12, 31), "pipeline", "PO4500109", officer),
        ("VRU-25-011", "Healthy relationships education", "Gravesham Mediation Service", "Serious Youth Violence", core, cs, "Open tender", 129425, y0, y1, "awarded", "PO4500110", lead),
        ("VRU-25-012", "Trauma-informed practice training (partners)", "Ashford Night Safety Volunteers", "Cross-cutting", core, "Training", "Direct award", 9000, date(2025, 6, 1), y1, "awarded", "PO4500111", officer),
        ("VRU-25-013", "Mentoring for 10-17s at risk of exclusion (Medway)", "Medway Youth Mentoring CIC", "Sexual Violence", core, cs, "Direct award", 36675, date(2025, 7, 1), date(2026, 6, 30), "live", "PO4500112", lead),
        ("VRU-25-014", "Family support: Young Futures referrals", "North Kent Sports Trust", "Serious Youth Violence", yf, cs, "Grant", 29450, date(2025, 7, 1), y1, "live", "PO4500113", lead),
        ("VRU-25-015", "Sports-based diversion (Sheppey)", "Safer Streets Kent Ltd", "Drugs and Alcohol", svd, cs, "Light-touch", 36325, date(2025, 7, 1), y1, "live", "PO4500114", officer),
        ("VRU-25-016", "Mentoring for 10-17s (pilot)", "Harbourside Family Support", "Serious Youth Violence", core, cs, "Framework call-off", 39450, y0, date(2025, 12, 31), "ended", "PO4500115", lead),
        ("VRU-25-017", "Drug and alcohol early help (pilot)", "Weald Recovery Partnership", "Sexual Violence", core, cs, "Quotation", 5450, y0, date(2025, 9, 30), "ended", "PO4500116", lead),
        ("VRU-25-018", "Trauma-informed practice training (youth workers)", "Thanet Detached Youth Work", "Serious Youth Violence", yf, cs, "Quotation", 20000, date(2025, 9, 1), y1, "awarded", "PO4500117", officer),
        ("VRU-25-019", "Healthy relationships education (secondary)", "Respect & Relationships Education CIC", "Drugs and Alcohol", svd, cs, "Quotation", 14800, y0, date(2027, 3, 31), "live", "PO4500118", officer),
        ("VRU-25-020", "Young Futures Panel coordination (A&E)", "A&E Navigators Kent", "Cross-cutting", pcc, cs, "Open tender", 13250, date(2025, 7, 1), date(2026, 1, 31), "ended", "PO4500119", lead),
        ("VRU-25-021", "Bystander campaign for the night-time economy", "Ashford Night Safety Volunteers", "Sexual Violence", core, "Communications and campaigns", "Quotation", 18000, date(2026, 1, 1), y1, "approved", "PO4500120", officer),
        ("VRU-25-022", "Detached youth work in hotspots", "Swale Boxing Academy", "Serious Youth Violence", core, cs, "Direct award", 22000, y0, y1, "terminated", "PO4500121", lead),
        ("VRU-25-023", "Problem profile: violence in the night-time economy", "Kent Trauma-Informed Schools Network", "Cross-cutting", core, "Data and analysis", "Quotation", 24500, y0, y1, "live", "PO4500122", officer),
        ("VRU-25-024", "Independent evaluation of the Young Futures Panel", "Gravesham Mediation Service", "Cross-cutting", core, "Evaluation", "Open tender", 44000, date(2025, 10, 1), date(2027, 9, 30), "live", "PO4500123", lead),
    ]
    return [DemoCommission(*r) for r in rows]


# Who owns each programme's milestones in the demo (the annual report is a generated deadline: see _demo_deadlines).
MILESTONE_OWNERS = {"Young Futures": MANAGER, "VRU grant": FINANCE, "Serious Violence Duty": ADMIN, "Contract": MANAGER}
MILESTONES = [
    # title, programme, due, status, completed, evidence: as drawn up for 2025-26 ({cur} is the open year, {nxt}
    # the next, {y0} and {y1} its two calendar years), moved to the years around today by ``_milestones``.
    ("Grant agreement for {cur} signed with the Home Office", "VRU grant", date(2025, 4, 30), "done", date(2025, 4, 22), "Signed agreement filed with OPCC finance."),
    ("Young Futures Prevention Partnership established", "Young Futures", date(2025, 7, 31), "done", date(2025, 7, 24), "Terms of reference agreed at the SVPPB on 24 July {y0}."),
    ("First operational Young Futures Panel", "Young Futures", date(2025, 10, 31), "done", date(2025, 10, 29), "First panel met 29 October {y0}; 11 children discussed."),
    ("Second Young Futures Panel (Medway)", "Young Futures", date(2025, 12, 31), "missed", None, "Delayed: chair not appointed until February."),
    ("Strategic Needs Assessment refreshed", "Serious Violence Duty", date(2026, 1, 31), "done", date(2026, 1, 28), "SNA {y1} published to partners."),
    ("Response Strategy and delivery plan {nxt} agreed", "Serious Violence Duty", date(2026, 3, 31), "done", date(2026, 3, 19), "Agreed by the SVPPB."),
    ("Young Futures delivery plan submitted to the Home Office", "Young Futures", date(2025, 5, 30), "done", date(2025, 5, 28), "Plan sent to the Home Office Young Futures team."),
    ("Young Futures Panel referral pathway agreed with partners", "Young Futures", date(2025, 9, 30), "done", date(2025, 9, 25), "Pathway signed off by children's services and schools."),
    ("Young Futures Panel: first progress report to the Home Office", "Young Futures", date(2026, 1, 30), "done", date(2026, 2, 4), "Sent five days late, agreed with the Home Office."),
    ("Young Futures Hub scoping report", "Young Futures", date(2026, 12, 18), "in progress", None, ""),
    ("Grant agreement for {nxt} signed", "VRU grant", date(2026, 5, 29), "done", date(2026, 5, 20), ""),
    ("Evaluation interim report", "Contract", date(2027, 1, 29), "not started", None, ""),
]


def _milestones(shift: int, today: date) -> list[tuple]:
    """``MILESTONES`` moved ``shift`` years; what was done or missed after ``today`` is still to do on it."""
    cur = label_for_start(2025 + shift)
    words = {"cur": cur, "nxt": label_for_start(2026 + shift), "y0": 2025 + shift, "y1": 2026 + shift}
    out = []
    for title, programme, due, status, completed, evidence in MILESTONES:
        due, completed = _moved(due, shift), completed and _moved(completed, shift)
        if (completed is not None and completed > today) or (status == "missed" and due >= today):
            status = "in progress" if due <= today + timedelta(days=60) else "not started"
            completed, evidence = None, ""
        elif status == "in progress" and due > today + timedelta(days=120):
            status = "not started"
        out.append((title.format(**words), programme, due, status, completed, evidence.format(**words)))
    return out


def _get_or_create(model, defaults: dict | None = None, **keys):
    obj = db.session.scalar(select(model).filter_by(**keys))
    if obj is None:
        obj = model(**keys, **(defaults or {}))
        db.session.add(obj)
        db.session.flush()
    return obj


def seed_reference_data() -> None:
    """Strands, categories and the standard output metrics: safe to run on any database."""
    for order, (name, description) in enumerate(STRANDS):
        _get_or_create(Strand, {"description": description, "sort_order": order}, name=name)
    for order, (name, labour) in enumerate(CATEGORIES):
        _get_or_create(Category, {"labour": labour, "sort_order": order}, name=name)
    from tracker.monitoring.service import seed_standard_metrics  # here, not at the top: monitoring imports models

    seed_standard_metrics()
    from tracker.procurement.notices import seed_thresholds

    seed_thresholds(db.session)


def seed_users() -> list[tuple[str, str, str]]:
    """One demo user per role; returns (email, role, password) for those made now."""
    made = []
    for role, name in ((ADMIN, "Alex Admin"), (MANAGER, "Morgan Manager"), (FINANCE, "Fran Finance"), (VIEWER, "Pat PCC-Office")):
        email = f"{role}@vru.example"
        if db.session.scalar(select(User).where(User.email == email)):
            continue
        password = "-".join(secrets.token_urlsafe(4) for _ in range(3))
        db.session.add(User(email=email, name=name, role=role, password_hash=hash_password(password)))
        made.append((email, role, password))
    return made


def seed_demo(today: date | None = None) -> list[tuple[str, str, str]]:
    """Seed the demo once, in the years around ``today`` (the real date by default; tests pass their own).
    Returns the demo sign-ins made now (their passwords are shown only this once)."""
    today = today or date.today()
    seed_reference_data()
    made = seed_users()
    start_year = parse_label(label_for(today))
    shift = start_year - 2025  # the demo was drawn up for 2025-26
    if year_by_label(label_for_start(start_year)) is not None:
        db.session.commit()
        return made
    rng = random.Random(2025)
    settings.put("vru_name", "Kent and Medway Violence Reduction Unit (demo)")
    settings.put("pcc_name", "Office of the Kent Police and Crime Commissioner")
    strands = {s.name: s for s in db.session.scalars(select(Strand))}
    categories = {c.name: c for c in db.session.scalars(select(Category))}
    users = {u.role: u for u in db.session.scalars(select(User))}

    def on(y: int, m: int, d: int) -> date:
        """A date of the 2025-26 drawing, in the years around today."""
        return date(y + shift, m, d)

    label = label_for_start(start_year)
    year_start, year_end = year_bounds(label)
    year = FundingYear(label=label, start_date=year_start, end_date=year_end, status="open",
                       notes=f"Grant letter received 14 February {start_year}.")
    db.session.add(year)
    streams = {}
    for name, funder, split, pounds in STREAMS:
        stream = _get_or_create(FundingStream, {"funder": funder, "labour_split": split, "claim_due_days": 30,
                                                "finance_lead_id": users[FINANCE].id if FINANCE in users else None},
                                name=name)
        streams[name] = stream
        db.session.add(Allocation(funding_year=year, funding_stream=stream, original_pence=pounds * 100,
                                  revised_pence=pounds * 100, status="confirmed"))
    lines = {}
    for stream, category, strand, labour, pounds, profile in BUDGET_LINES:
        line = BudgetLine(
            funding_year=year, funding_stream=streams[stream], category=categories[category], strand=strands[strand],
            labour=labour, description=f"{category} – {strand}", amount_pence=pounds * 100,
            original_amount_pence=pounds * 100, q1_pence=profile[0] * 100, q2_pence=profile[1] * 100,
            q3_pence=profile[2] * 100, q4_pence=profile[3] * 100,
        )
        db.session.add(line)
        lines.setdefault((stream, category), line)
        lines[(stream, category, strand)] = line
    db.session.flush()
    last = _last_year(label_for_start(start_year - 1), streams, categories, strands, users)

    providers = {}
    for name, supplier, charity, company, vcse, sme in PROVIDERS:
        provider = create_provider({"name": name, "charity_number": charity, "company_number": company, "vcse": vcse,
                                    "sme": sme}, [supplier], source="demo")
        providers[name] = (provider, supplier)

    commissions = []
    line_of: dict[int, BudgetLine] = {}
    for dc in _commissions(shift, today):
        provider, supplier = providers[dc.provider]
        line = lines.get((dc.stream, dc.category, dc.strand)) or lines[(dc.stream, dc.category)]
        # Its money by year: split by days across the years it runs in, on its line for the open year (the
        # default); its share of next year waits for next year's lines (the roll-over below attaches it).
        c = create_commission(dict(
            reference=dc.reference, title=dc.title, provider_id=provider.id, strand_id=strands[dc.strand].id,
            funding_year_id=year.id, procurement_route=dc.route, competed=dc.route in ("Open tender", "Quotation"),
            commission_type="grant" if dc.route == "Grant" else "contract", value_pence=dc.value * 100,
            start_date=dc.start, end_date=dc.end, review_date=dc.start + timedelta(days=182), status=dc.status,
            pcc_decision_ref=f"PCC/D/{start_year}/{int(dc.reference[-3:]):03d}", po_number=dc.po,
            contract_manager=dc.manager, description=f"{dc.title}, delivered by {dc.provider}.",
        ), budget_line=line, source="demo")
        line_of[c.id] = line
        commissions.append((c, supplier))
    db.session.flush()

    # Ledger: monthly invoices for delivering services, a credit note now and then, salaries and small purchases,
    # up to today (nothing is paid in the future).
    n = 0
    spent: dict[tuple[int, int], int] = {}  # (budget line id, quarter) -> pence, to bring each line near its profile

    def ledger(d: date, supplier_id: str, supplier_name: str, narrative: str, pence: int, line, commission=None,
               po: str = "", kind: str = "invoice", account=("5200", "Commissioned services")):
        nonlocal n
        n += 1
        vat = 0 if account[0] == "4010" else (pence // 5 if rng.random() < 0.3 else 0)
        invoice = f"INV-{rng.randint(10000, 99999)}" if kind != "journal" else ""
        if d > today:
            return  # drawn (so the random numbers, and so the figures, are the same whatever the day) but not paid
        db.session.add(LedgerTransaction(
            reference=f"DEMO{n:05d}", posting_date=d, period=period_of(d), funding_year_id=year.id,
            cost_centre="V100", account_code=account[0], account_description=account[1], supplier_id=supplier_id,
            supplier_name=supplier_name, invoice_number=invoice,
            po_number=po, narrative=narrative, net_pence=pence, vat_pence=vat, gross_pence=pence + vat,
            transaction_type=kind, commission_id=commission.id if commission else None,
            match_method="po" if commission else "", budget_line_id=line.id if line else None,
        ))
        if line is not None:
            key = (line.id, quarter_of(d))
            spent[key] = spent.get(key, 0) + pence

    for c, supplier in commissions:
        if c.status not in ("live", "ended", "terminated", "awarded"):
            continue
        start = max(c.start_date, year.start_date)
        stop = min(c.end_date, year.end_date)
        if c.status == "terminated":
            stop = on(2025, 9, 30)
        months = []
        d = date(start.year, start.month, 1)
        while d <= stop:
            months.append(d)
            d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        share = c.value_pence * (len(months) / max(1, (c.end_date.year - c.start_date.year) * 12 + c.end_date.month - c.start_date.month + 1))
        monthly = int(share // max(1, len(months)))
        pace = 0.85 if c.status == "awarded" else rng.choice([0.9, 0.95, 1.0, 1.0, 1.04])
        for month in months:
            day = month + timedelta(days=rng.randint(4, 24))
            if day > year.end_date:
                continue
            amount = int(monthly * pace * rng.uniform(0.9, 1.1))
            ledger(day, supplier, c.provider.name, f"{c.title} {month.strftime('%b %Y')}", amount, line_of[c.id], c, c.po_number)
        if rng.random() < 0.3 and months:
            day = months[len(months) // 2] + timedelta(days=26)
            ledger(day, supplier, c.provider.name, f"Credit note: {c.title} over-invoiced", -int(monthly * 0.1),
                   line_of[c.id], c, c.po_number, kind="credit")
    for stream_name in ("Home Office VRU core grant", "Serious Violence Duty"):
        line = lines[(stream_name, "Staffing")]
        for p in range(12):
            month = on(2025 + (p >= 9), (p + 3) % 12 + 1, 25)
            pay = int(line.amount_pence / 12 * rng.uniform(0.93, 1.0))
            ledger(month, "PAYROLL", "Kent Police payroll", f"VRU salaries {month.strftime('%b %Y')}", pay, line,
                   kind="journal", account=("4010", "Salaries"))
    panel = lines[("Young Futures", "Young Futures Panel")]
    for p in range(6, 12):
        month = on(2025 + (p >= 9), (p + 3) % 12 + 1, 25)
        ledger(month, "PAYROLL", "Kent Police payroll", f"Young Futures Panel coordinator {month.strftime('%b %Y')}",
               int(panel.amount_pence / 12), panel, kind="journal", account=("4010", "Salaries"))
    for i in range(40):
        d = year.start_date + timedelta(days=rng.randint(0, 364))
        line = lines[("Home Office VRU core grant", rng.choice(["Data and analysis", "Communications and campaigns", "Evaluation"]))]
        ledger(d, f"SUP2{rng.randint(100, 140)}", rng.choice(["Kent Print Services Ltd", "Insight Analytics Ltd", "Venue Hire Maidstone", "Social Media Ads Ltd"]),
               "Sundry purchase", rng.randint(500_00, 4_000_00), line, account=("5400", "Supplies and services"))
    # Other spend on each line (spot purchases, sessional staff) so that lines run close to profile, as a real
    # VRU's do: most within 2%, a few amber or red, so the RAG column has something to say.
    pace_by_line = [1.0, 0.99, 1.01, 0.995, 0.97, 1.0, 0.93, 1.0, 1.015, 0.985, 1.07, 1.0]
    other_suppliers = ["Kent Print Services Ltd", "Insight Analytics Ltd", "Venue Hire Maidstone", "Medway Training Co"]
    for index, line in enumerate(l for key, l in lines.items() if len(key) == 3):
        pace = pace_by_line[index % len(pace_by_line)]
        for quarter in range(1, 5):
            # Cumulative, so spend already ahead of profile in one quarter means less is added in the next.
            planned_to_date = int(sum(line.profile[:quarter]) * pace)
            spent_to_date = sum(spent.get((line.id, q), 0) for q in range(1, quarter + 1))
            gap = planned_to_date - spent_to_date
            if gap < 100_00:
                continue
            first_month = 4 + 3 * (quarter - 1)
            parts = [gap // 3, gap // 3, gap - 2 * (gap // 3)]
            for offset, part in enumerate(parts):
                month = (first_month + offset - 1) % 12 + 1
                d = on(2025 if month >= 4 else 2026, month, rng.randint(3, 27))
                if line.labour:
                    ledger(d, "PAYROLL", "Kent Police payroll", f"Sessional and agency staff {d.strftime('%b %Y')}",
                           part, line, kind="journal", account=("4010", "Salaries"))
                else:
                    ledger(d, f"SUP2{rng.randint(100, 140)}", rng.choice(other_suppliers),
                           f"{line.category.name}: spot purchase", part, line, account=("5400", "Supplies and services"))
    for i in range(12):  # not yet matched to a commission or budget line: for finance to assign
        d = year.start_date + timedelta(days=rng.randint(0, 364))
        ledger(d, "SUP1012", "Ashford Night Safety Volunteers Limited", "Volunteer expenses", rng.randint(600_00, 1_500_00), None)
    db.session.flush()

    # Next year: a draft rolled over from this one (allocations and lines), so contracts' shares of it sit on lines.
    from tracker.funding.service import roll_over

    nxt, _plan = roll_over(year)
    nxt.notes = "Awaiting the grant letter; April to June bridged from reserves."
    for title, programme, due, status, completed, evidence in _milestones(shift, today):
        db.session.add(Milestone(title=title, programme=programme, due_date=due, status=status, completed_date=completed,
                                 evidence=evidence, owner_id=users[MILESTONE_OWNERS.get(programme, MANAGER)].id if users else None,
                                 funding_year=year if due <= year.end_date else nxt))
    db.session.commit()  # generated deadlines (returns, claims, contract dates) are made as this commits
    _demo_deadlines(users, shift, today, last)
    from tracker.monitoring.demo import seed_demo_outputs  # here: monitoring imports the models this module seeds

    seed_demo_outputs(year, today)
    db.session.commit()
    _demo_claims_and_conditions(year, streams, categories, shift, today)
    db.session.commit()
    return made


def _last_year(label: str, streams: dict, categories: dict, strands: dict, users: dict) -> FundingYear:
    """Last year, done with: the same allocations and lines, spent close to profile all year, its Q4 return
    issued (finance, a month after 31 March) and the year closed."""
    from datetime import datetime

    from tracker.funding.service import set_year_status
    from tracker.returns import service as returns

    start, end = year_bounds(label)
    year = FundingYear(label=label, start_date=start, end_date=end, status="open",
                       notes="Closed after the year-end return and final claim.")
    db.session.add(year)
    for name, _funder, _split, pounds in STREAMS:
        db.session.add(Allocation(funding_year=year, funding_stream=streams[name], original_pence=pounds * 100,
                                  revised_pence=pounds * 100, status="confirmed"))
    rng = random.Random(2024)
    n = 0
    for stream, category, strand, labour, pounds, profile in BUDGET_LINES:
        line = BudgetLine(
            funding_year=year, funding_stream=streams[stream], category=categories[category], strand=strands[strand],
            labour=labour, description=f"{category} – {strand}", amount_pence=pounds * 100,
            original_amount_pence=pounds * 100, q1_pence=profile[0] * 100, q2_pence=profile[1] * 100,
            q3_pence=profile[2] * 100, q4_pence=profile[3] * 100)
        db.session.add(line)
        db.session.flush()
        pace = rng.uniform(0.97, 1.0)  # a year that finished close to budget, a little under
        for quarter, pounds_in_quarter in enumerate(profile, start=1):
            q_start = quarter_bounds(label, quarter)[0]
            for month in range(3):
                n += 1
                d = date(q_start.year + (q_start.month + month > 12), (q_start.month + month - 1) % 12 + 1, 20)
                pence = int(pounds_in_quarter * 100 * pace) // 3
                supplier = ("PAYROLL", "Kent Police payroll") if labour else ("SUP2101", "Kent Print Services Ltd")
                db.session.add(LedgerTransaction(
                    reference=f"DEMO-L{n:05d}", posting_date=d, period=period_of(d), funding_year_id=year.id,
                    cost_centre="V100", account_code="4010" if labour else "5200",
                    account_description="Salaries" if labour else "Commissioned services", supplier_id=supplier[0],
                    supplier_name=supplier[1], invoice_number="" if labour else f"INV-L{n:05d}",
                    narrative=f"{category} {d:%b %Y}", net_pence=pence, vat_pence=0, gross_pence=pence,
                    transaction_type="journal" if labour else "invoice", budget_line_id=line.id))
    db.session.flush()
    issued_on = datetime(end.year, 4, 28, 15, 0)
    returns.issue(year, 4, users.get(FINANCE), issued_on,
                  narrative=f"Year-end return for {label}: every stream finished within 3% of its allocation.")
    set_year_status(year, "closed")
    db.session.flush()
    return year


def _demo_claims_and_conditions(year: FundingYear, streams: dict, categories: dict, shift: int = 0,
                                today: date | None = None) -> None:
    """Home Office claims for the open year (Q1 paid, Q2 submitted, Q3 a draft, each once its quarter has ended and
    its dates have come), grant conditions (evaluation, a match-funding share at risk: pledged but not all
    evidenced, and Serious Violence Duty's ring fence) and two match contributions, one evidenced by a letter in
    the year's documents."""
    from tracker.claims import service as claims
    from tracker.models import GrantCondition
    from tracker.monitoring.documents import Upload, add_document

    core, svd = streams["Home Office VRU core grant"], streams["Serious Violence Duty"]
    svd.claim_due_days = 20
    today = today or date.today()
    for period, (submitted, paid) in enumerate([(date(2025, 7, 14), date(2025, 8, 8)), (date(2025, 10, 20), None),
                                                (None, None)], start=1):
        submitted, paid = submitted and _moved(submitted, shift), paid and _moved(paid, shift)
        if quarter_bounds(year.label, period)[1] >= today:
            break  # the quarter has not ended: nothing to claim yet
        submitted = submitted if submitted and submitted <= today else None
        paid = paid if submitted and paid and paid <= today else None
        claim = claims.prepare(year, core, period)
        claims.update(claim, claim.claimed_pence, "Chief finance officer, OPCC" if submitted else "", "")
        if submitted:
            claims.submit(claim, None, submitted)
        if paid:
            claims.record_payment(claim, paid, claim.claimed_pence, f"HO-REM-{period:04d}")
    db.session.add_all([
        GrantCondition(funding_year=year, funding_stream=core, kind="category_share", category=categories["Evaluation"],
                       minimum_basis_points=300, note="At least 3% of the grant on evaluation."),
        GrantCondition(funding_year=year, funding_stream=core, kind="match_share", minimum_basis_points=1000,
                       note="Match funding of at least 10% of the grant from local partners."),
        GrantCondition(funding_year=year, funding_stream=svd, kind="ring_fence", labour_pence=95_000_00,
                       note="Labour and non-labour may not be moved without Home Office approval."),
    ])
    letter = add_document("funding_year", year, "evidence", "Kent County Council match funding letter",
                          Upload(b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n", "kcc-match-letter.pdf"))
    db.session.flush()
    claims.save_contribution(year, None, funding_stream_id=core.id, partner="Kent County Council", kind="cash",
                             pledged_pence=100_000_00, evidenced_pence=90_000_00, document_id=letter.id,
                             note="Youth service posts co-funded with the VRU.")
    claims.save_contribution(year, None, funding_stream_id=core.id, partner="Medway Council", kind="in_kind",
                             pledged_pence=50_000_00, evidenced_pence=0, document_id=None,
                             note="Venues and community safety officers' time; timesheets to follow.")


def _demo_deadlines(users: dict, shift: int = 0, today: date | None = None, last: FundingYear | None = None) -> None:
    """Owners and a realistic record on the deadlines the app generated: most returns in on time, one late,
    the year's annual report missed; last year's all done. Nothing is done after ``today``."""
    from tracker.milestones.service import sync_deadlines

    today = today or date.today()
    sync_deadlines()
    cur, nxt = label_for_start(2025 + shift), label_for_start(2026 + shift)
    done = {part: (_moved(when, shift), evidence) for part, (when, evidence) in {
        "q1-return": (date(2025, 7, 28), "Q1 return sent to the OPCC."), "q2-return": (date(2025, 10, 27), "Q2 return sent to the OPCC."),
        "q3-return": (date(2026, 2, 3), "Sent four days late: ledger export delayed."), "q4-return": (date(2026, 4, 29), "Q4 return sent."),
        "final-claim": (date(2026, 5, 12), "Final claim accepted by the Home Office."),
    }.items()}
    for m in db.session.scalars(select(Milestone).where(Milestone.source_key.is_not(None))):
        # Owners are the app's defaults: the contract manager (Morgan Manager for the programme lead's
        # commissions), else the funding stream's finance lead (Fran Finance).
        label = m.funding_year.label if m.funding_year else ""
        part = m.source_key.rsplit(":", 1)[-1]
        if last is not None and label == last.label:
            if m.due_date <= today:
                m.status, m.completed_date, m.evidence = "done", min(m.due_date, today), "Done: the year is closed."
        elif label == cur and part in done and done[part][0] <= today:
            m.status, (m.completed_date, m.evidence) = "done", done[part]
        elif label == cur and part == "annual-report" and m.due_date < today:
            m.status, m.evidence = "missed", "Draft with the PCC; submission late."
        elif label == nxt and part == "q1-return" and _moved(date(2026, 7, 24), shift) <= today:
            m.status, m.completed_date = "done", _moved(date(2026, 7, 24), shift)
            m.evidence = "Q1 return sent to the OPCC."
        elif m.kind == "contract review" and m.due_date < min(_moved(date(2026, 9, 1), shift), today):
            m.status, m.completed_date, m.evidence = "done", m.due_date, "Review meeting held; notes on the contract file."
        elif m.kind == "contract end" and m.commission and m.commission.status == "ended":
            m.status, m.completed_date, m.evidence = "done", m.due_date, "Service ended; final invoice paid."
