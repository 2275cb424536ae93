"""The analysis pass: read the file once, classify every row (add, unchanged, changed, error, with located
problems) through its kind (``tracker/imports/kinds/``), and the preview that keeps what it found."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from tracker.imports import checked
from tracker.imports.drafts import Draft, _limits, _rows_path, _table
from tracker.imports.headers import BLANK, TOTALS, iter_records
from tracker.imports.problems import ImportRefused, _shown, problem, problem_text
from tracker.spreadsheets.reader import SpreadsheetError, column_letter, forget_kept, open_workbook
from tracker.imports.summary import LedgerSummary
from tracker.money import float_pence
from tracker.spreadsheets.values import ValueProblem, parse_amount
from tracker.models import Commission, LedgerTransaction, Provider, utcnow

ADD, UNCHANGED, CHANGED, ERROR = "add", "unchanged", "changed", "error"


# --- the analysis pass --------------------------------------------------------------------------------------

@dataclass(slots=True)
class Row:
    row: int
    action: str
    data: dict
    problems: list
    raw: dict
    existing_id: int | None = None
    money: int | None = None


# The longest text each field may hold, from the column it lands in (Text columns: TEXT_MAX), so an over-long
# cell is a located problem at the preview, never a database error at the commit.
TEXT_MAX = 2_000  # narratives and descriptions: a sane cap for a spreadsheet cell


def _column_limits(model, fields: dict[str, str]) -> dict[str, int]:
    return {name: getattr(model.__table__.c[column].type, "length", None) or TEXT_MAX
            for name, column in fields.items()}


_MAX_LEN = {
    "ledger": _column_limits(LedgerTransaction, {
        f: f for f in ("reference", "cost_centre", "account_code", "account_description", "supplier_id",
                       "supplier_name", "invoice_number", "po_number", "narrative")}),
    "commissions": {**_column_limits(Commission, {
        "reference": "reference", "title": "title", "description": "description", "po_number": "po_number",
        "contract_manager": "contract_manager", "pcc_decision": "pcc_decision_ref"}),
        **_column_limits(Provider, {"provider": "name", "registration_number": "charity_number"})},
    "budget": {},
}


COLUMN_MEMORY = 20_000  # distinct values remembered per column while parsing
MEMORY_TRIAL = 1_000  # rows parsed before a column whose values were mostly new stops remembering


_MISS = object()


class _Column:
    """One mapped column's parser, remembering what each distinct value parsed to: a ledger repeats its dates,
    suppliers, accounts and cost centres thousands of times, so most cells become one dictionary read (done
    inline by ``_Kind.parse``: a Python call per cell was most of the checking). Parsers are pure, so the answer
    (or the problem) is the same every time. Text is remembered by itself (no text equals a number); other values
    by type and value too (1, 1.0 and True are equal in Python, not as cells). An answer is (True, value) or
    (False, the problem)."""

    __slots__ = ("parser", "texts", "others", "pence", "missed", "direct")

    def __init__(self, parser: Callable[[object], object]) -> None:
        self.parser = parser
        self.texts: dict = {}
        self.others: dict = {}
        # An amount column: a number of pounds and pence becomes pence straight away (money.float_pence, the rule
        # parse_amount itself starts with), since amounts rarely repeat and remembering them costs more.
        self.pence = parser is parse_amount
        self.missed = 0  # values not found in memory
        self.direct = False  # set once the column is seen to hold mostly different values (references)

    def answer(self, value) -> tuple[bool, object]:
        if value.__class__ is str:
            memory, key = self.texts, value
        else:
            memory, key = self.others, (value.__class__, value)
        try:
            hit = memory.get(key, _MISS)
        except TypeError:  # an unhashable value: parse it every time
            return self._parse(value)
        if hit is _MISS:
            hit = self._parse(value)
            if len(memory) < COLUMN_MEMORY:
                memory[key] = hit
            self.missed += 1
        return hit

    def _parse(self, value) -> tuple[bool, object]:
        try:
            return True, self.parser(value)
        except ValueProblem as exc:
            return False, str(exc)

    def __call__(self, value):
        """The parsed value, or ValueProblem."""
        ok, result = self.answer(value)
        if ok:
            return result
        raise ValueProblem(result)


class _Kind:
    """What one kind of import does with a row. Subclasses load their lookups once in ``__init__``."""

    money_field = ""

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.sheet = draft.sheet
        limits = _MAX_LEN.get(draft.kind, {})
        self.specs = [(s.name, _Column(s.parser), s.required, limits.get(s.name)) for s in draft.fields
                      if s.name in draft.mapping]
        self.labels = {s.name: s.label for s in draft.fields}
        self.parsed_rows = 0

    def where(self, name: str) -> tuple[str, str]:
        col = self.draft.mapping.get(name)
        return self.draft.header_of(col) or self.labels.get(name, name), column_letter(col) if col is not None else ""

    def located(self, row: int, name: str, value: object, message: str) -> dict:
        column, letter = self.where(name)
        return problem(self.sheet, row, column, value, message, letter)

    def parse(self, row_no: int, values: dict) -> tuple[dict, list]:
        """Each mapped field's value parsed (hot path: once per row of the file, so the column's memory is read
        here rather than through a call)."""
        out: dict = {}
        problems: list = []
        get = values.get
        self.parsed_rows += 1
        if self.parsed_rows == MEMORY_TRIAL:
            for _name, column, _required, _limit in self.specs:
                # Most values so far were new (a reference, an invoice number): parse each without looking it up.
                column.direct = column.missed * 2 > MEMORY_TRIAL
        for name, column, required, limit in self.specs:
            value = get(name)
            if value is None and not required:
                continue  # an optional cell left empty (a journal's period or VAT): the reader gives None for blank
            cls = value.__class__
            if cls is float and column.pence:
                parsed = float_pence(value)
                if parsed is not None:
                    out[name] = parsed
                    continue
            if column.direct:
                hit = column._parse(value)
            else:
                try:
                    hit = column.texts.get(value, _MISS) if cls is str else column.others.get((cls, value), _MISS)
                except TypeError:
                    hit = _MISS
                if hit is _MISS:
                    hit = column.answer(value)
            ok, parsed = hit
            if not ok:
                problems.append(self.located(row_no, name, value, parsed))
                continue
            if parsed.__class__ is str:
                if required and not parsed:
                    problems.append(self.located(row_no, name, value, "is blank"))
                    continue
                if limit and len(parsed) > limit:
                    problems.append(self.located(row_no, name, value, f"is longer than {limit} characters"))
                    continue
            out[name] = parsed
        return out, problems

    def check(self, row_no: int, values: dict) -> Row:  # pragma: no cover - abstract
        raise NotImplementedError


def _closed_message(label: str) -> str:
    return f"falls in funding year {label}, which is closed, so it cannot be imported"


@dataclass
class Pass:
    """What one read of the file found: counts, totals, notes and problems (rows are streamed to ``on_row``)."""

    counts: dict = field(default_factory=lambda: {"read": 0, ADD: 0, UNCHANGED: 0, CHANGED: 0, ERROR: 0,
                                                  "blank": 0, "totals": 0})
    file_pence: int = 0
    import_pence: int = 0
    totals_row_pence: int | None = None
    notes: list = field(default_factory=list)
    #: Budget lines the rows would take over their amount (a commissions register's): confirmed before a commit.
    over_budget: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    error_rows: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)  # a ledger's sample rows, dates, matching and years (summary.py)


def analyse(draft: Draft, on_row: Callable[[Row], None] | None = None) -> Pass:
    """Read the file once, classify every row and hand each to ``on_row`` (the commit's writer)."""
    from tracker.imports.kinds import KIND_CLASSES  # the kinds build on this module

    result = Pass()
    kind = KIND_CLASSES[draft.kind](draft)
    counts = result.counts
    ledger = LedgerSummary() if draft.kind == "ledger" else None
    try:
        with open_workbook(draft.path, draft.filename, **_limits(), keep=True) as wb:
            for record in iter_records(_table(draft, wb)):
                if record.status == BLANK:
                    counts["blank"] += 1
                    continue
                if record.status == TOTALS:
                    counts["totals"] += 1
                    result.notes.append(f"{draft.sheet}, {record.note}")
                    money = record.values.get(kind.money_field)
                    try:
                        result.totals_row_pence = _amount(money)
                    except ValueProblem:
                        pass
                    continue
                counts["read"] += 1
                row = kind.check(record.row, record.values)
                counts[row.action] += 1
                if row.money is not None:
                    result.file_pence += row.money
                if row.action == ERROR:
                    result.problems.extend(row.problems)
                    result.error_rows.append({"row": row.row, "values": {k: _shown(v) for k, v in row.raw.items()},
                                              "problems": [problem_text(q) for q in row.problems]})
                elif row.action in (ADD, CHANGED):
                    result.import_pence += row.money or 0
                    if ledger is not None:
                        ledger.take(row.action, row.data, row.money, row.problems)
                if on_row is not None:
                    on_row(row)
    except SpreadsheetError as exc:
        raise ImportRefused(exc.message) from None
    finally:
        forget_kept()  # the whole file has been read: free the parsed sheet rather than keep it for a while
    result.notes.extend(getattr(kind, "notes", []))
    if hasattr(kind, "over_budget"):
        result.over_budget = kind.over_budget()
    if ledger is not None:
        result.summary = ledger.as_dict()
    if counts["blank"]:
        result.notes.append(f"{counts['blank']} blank row{'s' if counts['blank'] != 1 else ''} left out")
    if counts["read"] == 0:
        raise ImportRefused(f"Sheet '{draft.sheet}' has headings on row {draft.header_row} but no rows of data "
                            "below them.")
    return result


def _amount(value) -> int | None:
    return None if value is None else parse_amount(value)


def preview(draft: Draft) -> dict:
    """Run the pass without writing and keep its findings on the draft (what the preview page shows).

    A ledger's checked rows are kept too (``checked.RowsFile``) with the database's state, so the commit can
    write them without reading the file again when nothing has changed since."""
    rows_file = checked.RowsFile(_rows_path(draft)) if draft.kind == "ledger" else None
    state = checked.db_state() if rows_file else None
    try:
        found = analyse(draft, rows_file.take if rows_file else None)
    except BaseException:
        if rows_file:
            rows_file.abandon()
        raise
    if rows_file:
        rows_file.finish()
    draft.preview = {
        "db_state": state,
        "counts": found.counts, "file_pence": found.file_pence, "import_pence": found.import_pence,
        "totals_row_pence": found.totals_row_pence, "notes": found.notes, "over_budget": found.over_budget,
        "problems": found.problems,
        "error_rows": found.error_rows, "at": utcnow().isoformat(timespec="seconds"), "summary": found.summary,
    }
    draft.save()
    return draft.preview
