"""Builds a large, realistic data set fast, with bulk inserts: for benchmarks and load tests.

``build(n_commissions=5000, n_providers=500, n_ledger=100000)`` fills an empty database (the app's tables
already created) in a few seconds on SQLite or PostgreSQL. Deterministic for a given ``seed``.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import insert

from tracker.commissions.shares import split_by_years
from tracker.extensions import db
from tracker.models import (
    Allocation, BudgetLine, Category, Commission, FundingShare, FundingStream, FundingYear, LedgerTransaction, Milestone, Provider,
    Strand, SupplierAlias, Variation,
)
from tracker.models.commissions import COMMISSION_STATUSES, PROCUREMENT_ROUTES
from tracker.periods import label_for_start, period_of, year_bounds

STRANDS = ("Sexual Violence", "Serious Youth Violence", "Drugs and Alcohol", "Cross-cutting")
CATEGORIES = ("Staffing", "Commissioned services", "Evaluation", "Data and analysis", "Communications and campaigns",
              "Training", "Young Futures Panel", "Overheads")
STREAMS = ("Home Office VRU core grant", "Serious Violence Duty", "Young Futures", "PCC contribution")
WORDS = ("Mentoring", "Detached youth work", "Family support", "Sports diversion", "Night-time safety", "Healthy relationships",
         "Trauma-informed training", "A&E navigators", "Custody intervention", "Schools programme", "Bystander campaign")
PLACES = ("Medway", "Thanet", "Swale", "Ashford", "Dover", "Maidstone", "Gravesham", "Canterbury", "Folkestone", "Dartford")


@dataclass
class Built:
    years: list[int]
    providers: int
    commissions: int
    ledger_lines: int
    seconds: float
    busiest_commission_id: int


def _bulk(model, rows: list[dict], chunk: int = 5000) -> None:
    for i in range(0, len(rows), chunk):
        db.session.execute(insert(model), rows[i:i + chunk])


def build(n_commissions: int = 5000, n_providers: int = 500, n_ledger: int = 100_000, first_year: int = 2024,
          n_years: int = 3, seed: int = 1) -> Built:
    """Fill the (empty) database; the caller's session is committed at the end."""
    started = time.perf_counter()
    rng = random.Random(seed)
    _bulk(Strand, [{"id": i + 1, "name": n, "sort_order": i} for i, n in enumerate(STRANDS)])
    _bulk(Category, [{"id": i + 1, "name": n, "labour": n in ("Staffing", "Young Futures Panel"), "sort_order": i}
                     for i, n in enumerate(CATEGORIES)])
    _bulk(FundingStream, [{"id": i + 1, "name": n, "funder": "Home Office"} for i, n in enumerate(STREAMS)])
    years = []
    for k in range(n_years):
        label = label_for_start(first_year + k)
        start, end = year_bounds(label)
        status = "closed" if k < n_years - 2 else "open" if k == n_years - 2 else "draft"
        years.append({"id": k + 1, "label": label, "start_date": start, "end_date": end, "status": status})
    _bulk(FundingYear, years)
    _bulk(Allocation, [{"funding_year_id": y["id"], "funding_stream_id": s + 1, "original_pence": 500_000_00,
                        "revised_pence": 500_000_00} for y in years for s in range(len(STREAMS))])
    lines, line_id = [], 0
    for y in years:
        for s in range(len(STREAMS)):
            for c in range(len(CATEGORIES)):
                line_id += 1
                amount = rng.randrange(20_000, 400_000) * 100
                q = amount // 4
                lines.append({"id": line_id, "funding_year_id": y["id"], "funding_stream_id": s + 1, "category_id": c + 1,
                              "strand_id": rng.randrange(len(STRANDS)) + 1, "labour": c in (0, 6),
                              "description": f"{CATEGORIES[c]} ({STREAMS[s]})", "amount_pence": amount,
                              "original_amount_pence": amount, "q1_pence": q, "q2_pence": q, "q3_pence": q,
                              "q4_pence": amount - 3 * q})
    _bulk(BudgetLine, lines)
    lines_by_year: dict[int, list[dict]] = {}
    for line in lines:
        lines_by_year.setdefault(line["funding_year_id"], []).append(line)

    providers = [{"id": i + 1, "name": f"{rng.choice(PLACES)} {rng.choice(WORDS)} {i + 1:04d} CIC",
                  "vcse": rng.random() < 0.7, "sme": rng.random() < 0.8, "charity_number": str(1_000_000 + i)}
                 for i in range(n_providers)]
    _bulk(Provider, providers)
    _bulk(SupplierAlias, [{"provider_id": p["id"], "kind": "supplier_id", "value": f"SUP{p['id']:05d}"} for p in providers])

    commissions = []
    for i in range(n_commissions):
        y = years[i % len(years)]
        line = rng.choice(lines_by_year[y["id"]])
        start = y["start_date"] + timedelta(days=rng.randrange(0, 180))
        end = start + timedelta(days=rng.randrange(90, 720))
        status = rng.choice(COMMISSION_STATUSES)
        commissions.append({
            "id": i + 1, "reference": f"VRU-{(first_year + i % len(years)) % 100:02d}-{i + 1:05d}",
            "title": f"{rng.choice(WORDS)} in {rng.choice(PLACES)}", "description": "",
            "provider_id": rng.randrange(n_providers) + 1, "strand_id": line["strand_id"], "funding_year_id": y["id"],
            "procurement_route": rng.choice(PROCUREMENT_ROUTES), "_line": line,
            "competed": rng.random() < 0.5, "commission_type": "contract", "value_pence": rng.randrange(5_000, 150_000) * 100,
            "start_date": start, "end_date": end, "status": status, "po_number": f"PO{4_500_000 + i}",
            "contract_manager": "VRU Commissioning Officer", "version": 1,
        })
    _bulk(Commission, [{k: v for k, v in c.items() if k != "_line"} for c in commissions])
    # Each contract's money by year: split by days, on the same stream and category's line in each year.
    line_key = {(l["funding_year_id"], l["funding_stream_id"], l["category_id"]): l["id"] for l in lines}
    year_id = {y["label"]: y["id"] for y in years}
    shares, share_line = [], {}
    for c in commissions:
        for label, amount in split_by_years(c["value_pence"], c["start_date"], c["end_date"]):
            y_id = year_id.get(label)
            l_id = line_key.get((y_id, c["_line"]["funding_stream_id"], c["_line"]["category_id"])) if y_id else None
            shares.append({"commission_id": c["id"], "year_label": label, "funding_year_id": y_id,
                           "funding_stream_id": c["_line"]["funding_stream_id"], "budget_line_id": l_id,
                           "amount_pence": amount})
            share_line[(c["id"], y_id)] = l_id
    _bulk(FundingShare, shares, chunk=10_000)
    # A variation on one commission in ten, and a milestone on one in twenty.
    _bulk(Variation, [{"commission_id": c["id"], "variation_date": c["start_date"] + timedelta(days=60),
                       "reason": "Extension agreed at contract review", "value_change_pence": 1_000_00,
                       "previous_end_date": c["end_date"], "new_end_date": c["end_date"]}
                      for c in commissions[::10]])
    _bulk(Milestone, [{"title": f"Contract review: {c['reference']}", "programme": "Contract",
                       "due_date": c["start_date"] + timedelta(days=180), "status": "not started",
                       "commission_id": c["id"], "funding_year_id": c["funding_year_id"]} for c in commissions[::20]])

    # Ledger: 90% matched to a commission (a few commissions get many lines, as real busy contracts do).
    busiest = commissions[0]
    ledger = []
    for i in range(n_ledger):
        if rng.random() < 0.9:
            c = busiest if i % 500 == 0 else commissions[int(rng.paretovariate(1.2) * 7) % len(commissions)]
            d = c["start_date"] + timedelta(days=rng.randrange(0, max(1, (c["end_date"] - c["start_date"]).days)))
            y = next((y for y in years if y["start_date"] <= d <= y["end_date"]), years[-1])
            commission_id, line_id, supplier = c["id"], share_line.get((c["id"], y["id"])), f"SUP{c['provider_id']:05d}"
        else:
            y = rng.choice(years)
            d = y["start_date"] + timedelta(days=rng.randrange(0, 365))
            commission_id, line_id, supplier = None, None, f"SUP{rng.randrange(n_providers) + 1:05d}"
        net = rng.randrange(-50_000, 900_000) if rng.random() < 0.05 else rng.randrange(1_000, 900_000)
        ledger.append({
            "reference": f"TX{i + 1:07d}", "posting_date": d, "period": period_of(d), "funding_year_id": y["id"],
            "cost_centre": "V100", "account_code": "5200", "account_description": "Commissioned services",
            "supplier_id": supplier, "supplier_name": "", "invoice_number": f"INV{i:07d}", "po_number": "",
            "narrative": "Services delivered", "net_pence": net, "vat_pence": 0, "gross_pence": net,
            "transaction_type": "invoice" if net >= 0 else "credit", "commission_id": commission_id,
            "match_method": "po" if commission_id else "", "budget_line_id": line_id,
        })
    _bulk(LedgerTransaction, ledger, chunk=10_000)
    db.session.commit()
    return Built([y["id"] for y in years], n_providers, n_commissions, n_ledger, time.perf_counter() - started,
                 busiest["id"])
