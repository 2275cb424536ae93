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
from tests.returns.printing import difference, page_images, pdf_pages, pdf_text, render_pdf
from tracker.extensions import db
from tracker.returns.builder import build_return
from tracker.returns.workbook import workbook_bytes

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
    references = sorted(REFERENCE.glob("return-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    assert references, "no reference images: run with UPDATE_PRINT_REFERENCE=1, look at them, and commit them"
    assert [p.name for p in pages] == [r.name for r in references], "the return prints on a different number of pages"
    for page, reference in zip(pages, references):
        off = difference(page, reference)
        assert off <= TOLERANCE, f"{page.name} differs from the reference by {off:.1%} (see {ARTIFACTS})"
