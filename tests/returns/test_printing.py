"""The return printed as the PCC office prints it: LibreOffice renders the workbook to PDF and poppler reads it.

- every note sentence and every service name is on the page whole (nothing cut at a margin or a cell edge);
- no page is narrower than its content, and each table's last column is printed;
- the cover's lines do not print on top of each other;
- the pages look like the stored reference images, within a tolerance. The rendered PNGs are kept in
  tests/artifacts/print/ to look at; set UPDATE_PRINT_REFERENCE=1 to store new references after a deliberate
  change to the layout (and look at them before committing).
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from tests.returns.conftest import build_small
from tests.returns.printing import difference, page_images, pdf_layout, pdf_pages, pdf_text, render_pdf
from tracker.extensions import db
from tracker.returns.builder import build_return
from tracker.returns.frozen import thaw
from tracker.returns.service import issue, stored_bytes
from tracker.returns.workbook import fitted_widths, shown, workbook_bytes

REFERENCE = Path(__file__).resolve().parent / "reference"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "print"
WHEN = datetime(2025, 10, 14, 9, 30)
LONG_SERVICE = "Mentoring in schools across the north of the county, with after-school sessions for year 9 pupils"
NOTES = [
    "Underspend on the Serious Violence Duty stream: recruitment of the two youth workers was delayed until the "
    "autumn term because the preferred provider withdrew and the panel had to re-run the tender.",
    "The detached youth work contract therefore starts in October rather than July.",
    "We expect to recover most of the underspend by the year end by re-profiling the remaining £8,765.44 into Q3 "
    "and Q4, and we will report progress against the revised profile in the next return.",
    "Risk: the evaluation contract (VRU-A-003) has not yet started; if it slips beyond January the final report "
    "will not be ready for the PCC's annual report.",
]
#: Share of the inked pixels allowed to differ from the reference (fonts hint a little differently from build to
#: build; two different pages of the return differ by well over half).
TOLERANCE = 0.10


@pytest.fixture
def printed(make, tmp_path):
    small = build_small(make, title=LONG_SERVICE, provider="Alpha Community Interest Company (North)")
    make.commission("VRU-A-004", small.l3, provider=make.provider("Delta Youth & Families Partnership"),
                    title="Detached youth work in the town centre and the three largest estates on Friday nights",
                    value_pence=5_000_00, status="terminated")
    db.session.commit()
    data = build_return(small.year, 2, generated_at=WHEN)
    data.narrative = "\n".join([" ".join(NOTES[:2]), NOTES[2], NOTES[3]])
    return data, render_pdf(tmp_path, workbook_bytes(data))


def test_every_note_sentence_and_service_name_prints_whole(printed):
    data, pdf = printed
    text = pdf_text(pdf)
    for sentence in NOTES:
        assert " ".join(sentence.split()) in text, f"note cut: {sentence[:60]}..."
    services = data.table("Commissioned services")
    at = services.column_index("service")
    names = [row[at] for row in services.rows]
    assert LONG_SERVICE in names
    for name in names:
        assert name in text, f"service name cut: {name}"
    for label, value in data.cover():
        assert f"{label}" in text and str(value) in text, label


def test_no_page_is_narrower_than_its_content_and_each_table_prints_its_last_column(printed):
    data, pdf = printed
    pages = pdf_pages(pdf)
    assert pages and all(p.width > p.height for p in pages), "every page is landscape"
    for n, page in enumerate(pages, start=1):
        right = max(w.x_max for w in page.words)
        assert right <= page.width - 10, f"page {n}: text reaches {right:.0f} of {page.width:.0f} points"
        assert min(w.x_min for w in page.words) >= 10
    text = pdf_text(pdf)
    for table in data.tables:
        assert table.columns[-1].heading in text, table.sheet
        assert table.explanation in text, f"{table.sheet}: the explanation is cut"
    # Printed in UK form, from the file (not the reader's clock): 14/10/2025, never 10/14/2025.
    assert "Draft made 14/10/2025" in text


def _overlap(a, b) -> bool:
    """Two words printed over each other: their boxes cross by more than a sliver (a word's box is a little taller
    than its letters, so the lines of a wrapped paragraph touch)."""
    across = min(a.x_max, b.x_max) - max(a.x_min, b.x_min)
    down = min(a.y_max, b.y_max) - max(a.y_min, b.y_min)
    return across > 0.5 and down > 0.4 * min(a.y_max - a.y_min, b.y_max - b.y_min)


def test_the_cover_has_no_text_printed_over_other_text(printed):
    _, pdf = printed
    cover = pdf_pages(pdf)[0]
    assert "What each sheet shows" in cover.text
    words = cover.words
    clashes = [(a.text, b.text) for i, a in enumerate(words) for b in words[i + 1:] if _overlap(a, b)]
    assert not clashes, clashes[:5]


def _page_number(path: Path) -> int:
    return int(path.stem.rsplit("-", 1)[1])


def test_pages_match_the_reference_images(printed):
    _, pdf = printed
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    pages = page_images(pdf, ARTIFACTS, "return")
    if os.environ.get("UPDATE_PRINT_REFERENCE"):
        if REFERENCE.exists():
            shutil.rmtree(REFERENCE)
        REFERENCE.mkdir(parents=True)
        for page in pages:
            shutil.copy(page, REFERENCE / page.name)
    references = sorted(REFERENCE.glob("return-*.png"), key=_page_number)
    assert references, "no reference images: run with UPDATE_PRINT_REFERENCE=1, look at them, and commit them"
    # By page number: pdftoppm pads the numbers to the page count's digits (return-01.png from ten pages on).
    assert [_page_number(p) for p in pages] == [_page_number(r) for r in references], \
        "the return prints on a different number of pages"
    for page, reference in zip(pages, references):
        off = difference(page, reference)
        assert off <= TOLERANCE, f"{page.name} differs from the reference by {off:.1%} (see {ARTIFACTS})"


# --- the issued file, with figures in the millions: totals print whole, never "###" -----------------------------

ISSUED_AT = datetime(2026, 1, 20, 11, 0)


@pytest.fixture
def issued_big(make):
    """A year in millions: a contract paid far beyond its share (its Remaining, and so the totals', a big negative
    in brackets: the widest a money cell gets) and one in the pipeline."""
    from datetime import date

    year = make.year("2025-26")
    core = make.stream("Core grant")
    make.allocation(year, core, original_pence=3_100_000_00, revised_pence=3_000_000_00)
    services = make.category("Commissioned services", sort_order=1)
    staffing = make.category("Staffing", labour=True, sort_order=2)
    strand = make.strand("Serious Youth Violence")
    line = make.budget_line(year, core, services, strand, 2_500_000_00, (625_000_00,) * 4,
                            description="Commissioned services")
    team = make.budget_line(year, core, staffing, strand, 400_000_00, (100_000_00,) * 4, labour=True,
                            description="Team")
    paid = make.commission("VRU-B-001", line, provider=make.provider("Beta Trust"), title="Detached youth work",
                           value_pence=100_000_00, status="live", start_date=date(2025, 4, 1),
                           end_date=date(2026, 3, 31))
    make.commission("VRU-B-002", line, provider=make.provider("Gamma Ltd"), title="Evaluation",
                    value_pence=143_406_61, status="pipeline", start_date=date(2025, 10, 1),
                    end_date=date(2026, 3, 31))
    make.ledger_line(date(2025, 5, 15), 2_406_125_66, commission=paid)
    make.ledger_line(date(2025, 6, 30), 345_678_90, budget_line=team)
    make.milestone("Q1 return sent", due_date=date(2025, 7, 31), funding_year_id=year.id, status="done",
                   completed_date=date(2025, 7, 28), evidence="Emailed to the PCC office")
    db.session.commit()
    finance = make.user("finance")
    record = issue(year, 2, finance, ISSUED_AT, narrative="The contract for detached youth work was overpaid.")
    db.session.commit()
    return record


def test_money_columns_are_as_wide_as_their_widest_total(issued_big):
    """No LibreOffice needed: the width the workbook sets fits the widest figure as shown, bold and bracketed."""
    services = thaw(issued_big.frozen).table("Commissioned services")
    at = services.column_index("remaining")
    contracted = next(t for t in services.totals if t.label == "Contracted total")
    assert contracted.values["remaining"] == -2_306_125_66
    assert shown(services.columns[at], contracted.values["remaining"]) == "(£2,306,125.66)"
    widths = fitted_widths(services)
    assert widths[at] >= len("(£2,306,125.66)") * 1.1 + 1, widths[at]
    assert services.columns[at].width == 13  # the table's own width, which printed "###"
    # A wrapped text column keeps its width (its text goes onto more lines instead).
    assert widths[services.column_index("service")] == services.columns[services.column_index("service")].width


def test_the_issued_file_prints_every_sheets_totals_whole(issued_big, tmp_path):
    """The stored file rendered by LibreOffice: no "###", every totals row with each of its figures as shown,
    nothing past a page's edge."""
    pdf = render_pdf(tmp_path, stored_bytes(issued_big), "issued")
    pages = pdf_layout(pdf)
    laid = "\n".join(pages)
    assert "###" not in laid, next(line for line in laid.splitlines() if "###" in line)
    frozen = thaw(issued_big.frozen)
    totalled = [t for t in frozen.tables if t.totals]
    assert {t.sheet for t in totalled} >= {"Summary by funding stream", "Quarterly profile and spend",
                                          "Expenditure by category", "Commissioned services"}
    words = set(laid.split())
    for table in totalled:
        for total in table.totals:
            assert total.label in laid, f"{table.sheet}: {total.label} is not printed"
            for c in table.columns[1:]:
                value = total.values.get(c.key)
                if c.total == "sum" and value is not None:
                    assert shown(c, value) in words, f"{table.sheet}, {total.label}, {c.heading}: {shown(c, value)}"
    assert "(£2,306,125.66)" in words
    for n, page in enumerate(pdf_pages(pdf), start=1):
        assert max(w.x_max for w in page.words) <= page.width - 10, f"page {n} is cut at its right edge"
