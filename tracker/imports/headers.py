"""Find the table in an uploaded spreadsheet and match its columns to the fields of an import.

Real exports put a "Read me" sheet first, hide lookup sheets, and start the data under title rows, merged
titles and blank rows. ``find_table`` scores every visible sheet's first rows against the column names each
kind of import knows (``FIELDS``) and picks the best sheet, header row and, if not given, the kind.
``iter_records`` then streams the data rows as ``{field: raw value}``, marking blank and totals rows so the
caller can leave them out and say so ("row 427: totals row left out").
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Iterator, NamedTuple

from tracker.spreadsheets.reader import SpreadsheetError, Workbook
from tracker.spreadsheets.values import (
    CellError,
    parse_amount,
    parse_bool,
    parse_date,
    parse_int,
    parse_field_text,
    parse_text,
)

HEADER_SCAN_ROWS = 30  # a header further down than this is not a table we can recognise
SAMPLE_SCAN_ROWS = 200  # rows read below the header to find sample values for the mapping screen

_PARENS = re.compile(r"\([^)]*\)")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_header(text: object) -> str:
    """A column heading reduced for matching: "Supplier Name " -> "suppliername", "Value (£)" -> "value".

    Bracketed notes such as units "(£)" or "(Apr-Jun)" are dropped unless they are the whole heading.
    """
    if text is None:
        return ""
    s = parse_text(text) if not isinstance(text, str) else text
    s = s.lower().replace("£", "")
    bare = _NOT_ALNUM.sub("", _PARENS.sub("", s))
    return bare or _NOT_ALNUM.sub("", s)


@dataclass(frozen=True)
class FieldSpec:
    """One field an import fills: ``name`` (stored), ``label`` (shown), the headings it is known by, its parser."""

    name: str
    label: str
    required: bool
    synonyms: tuple[str, ...]
    parser: Callable[[object], object]
    keys: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        names = (self.label, self.name, *self.synonyms)
        object.__setattr__(self, "keys", frozenset(k for k in map(normalise_header, names) if k))

    @property
    def money(self) -> bool:
        return self.parser is parse_amount


def _f(name: str, label: str, required: bool, synonyms: tuple[str, ...], parser=parse_field_text) -> FieldSpec:
    return FieldSpec(name, label, required, synonyms, parser)


LEDGER = (
    _f("reference", "Transaction reference", True,
       ("Transaction Ref", "Trans Ref", "trans_no", "Transaction Number", "Transaction No", "Transaction ID",
        "Journal", "Journal No", "Journal Number", "Journal Ref", "Document Number", "Document No", "Doc No", "Transaction Reference", "Trans No", "Voucher Number", "Voucher No", "Document Reference", "Payment Reference", "Journal Reference", "Our Reference", "Our Ref", "Reference Number")),
    _f("posting_date", "Posting date", True,
       ("Posting Date", "Paid Date", "paid_date", "Date", "Transaction Date", "Payment Date", "Date Paid",
        "GL Date", "Date of Payment", "Effective Date", "Posted Date", "Date Posted", "Accounting Date", "Document Date", "Pay Date", "Payment Run Date", "Transaction Posting Date"), parse_date),
    _f("period", "Period", False, ("Period", "Accounting Period", "Ledger Period", "Fin Period", "Period No", "Period Number", "Posting Period", "Financial Period", "Accounting Period No"), parse_int),
    _f("cost_centre", "Cost centre", False,
       ("Cost Centre", "Cost Center", "Cost Centre Code", "CC", "organisational_unit", "Service Area", "Cost Centre No", "Cost Centre Number", "Cost Code", "Responsible Unit", "Service Division", "Department", "Cost Ctr")),
    _f("account_code", "Account code", False,
       ("Account Code", "expenditure_code", "Account", "Nominal Code", "GL Code", "Subjective Code",
        "Expenditure Code", "Account No", "Expenses Code", "Expense Code", "CIPFA Expenditure Code", "Account Number", "GL Account", "Ledger Code", "Nominal", "Acc Code", "Natural Account")),
    _f("account_description", "Account description", False,
       ("Account Description", "expenditure_category", "Expenditure Category", "Account Name",
        "Subjective", "Subjective Description", "Nominal Description", "Expense Type", "Expenses Type", "Expenditure Type", "Account Desc", "Nominal Name", "Subjective Name", "Expense Description")),
    _f("supplier_id", "Supplier ID", False,
       ("Supplier ID", "supplier_id", "Supplier Number", "Supplier No", "Supplier Code", "Supplier Ref",
        "Vendor ID", "Vendor Number", "Creditor Number", "Creditor ID", "Supplier Account", "Supplier Account No", "Vendor No", "Vendor Code", "Creditor No", "Creditor Code", "Payee ID", "Beneficiary ID", "Supplier Reference")),
    # Not required: a journal (a rounding difference, a year-end accrual) has no supplier; it imports unassigned.
    _f("supplier_name", "Supplier name", False,
       ("Supplier Name", "supplier_name", "Provider", "Payee", "Vendor", "Supplier", "Vendor Name",
        "Creditor", "Creditor Name", "Payee Name", "Supplier (beneficiary)", "Beneficiary", "Beneficiary Name", "Supplier / Beneficiary", "Supplier Full Name", "Recipient", "Recipient Name", "Merchant Name", "Supplier Description")),
    _f("invoice_number", "Invoice number", False,
       ("Invoice No", "Invoice Number", "Invoice", "Invoice Ref", "Supplier Invoice", "Invoice Reference", "Supplier Invoice Number", "Supplier Invoice No", "Invoice Num", "Inv No", "Invoice ID")),
    _f("po_number", "PO number", False,
       ("PO No", "PO Number", "Purchase Order", "Purchase Order Number", "PO", "PO Ref", "Order Number", "Purchase Order Reference", "Purchase Order No", "PO Reference", "Order No", "Order Ref")),
    _f("narrative", "Narrative", False,
       ("Narrative", "Description", "Details", "Line Description", "Memo", "Transaction Description", "Purpose of Expenditure", "Transaction Narrative", "Line Narrative", "Item Description", "Payment Description")),
    _f("net", "Net", True,
       ("Net", "Amount", "Value (£)", "Net Amount", "amount", "Value", "Net Value", "Amount (£)", "Net (£)", "Net Amount (£)", "Net Value (£)", "Amount Paid", "Amount Excl VAT", "Amount Excluding VAT", "Net Total", "Line Amount", "Transaction Amount", "Payment Amount", "Expenditure", "Spend", "Amount in Sterling"),
       parse_amount),
    _f("vat", "VAT", False, ("VAT", "VAT Amount", "Tax", "VAT (£)", "Irrecoverable VAT", "Tax Amount", "VAT Value", "Recoverable VAT"), parse_amount),
    _f("gross", "Gross", False, ("Gross", "Gross Amount", "Gross Value", "Gross (£)", "Amount Incl VAT", "Amount Including VAT", "Gross Total", "Total Including VAT"), parse_amount),
    _f("type", "Type", False, ("Type", "Transaction Type", "Trans Type", "Document Type", "Doc Type")),
)

COMMISSIONS = (
    _f("reference", "Contract reference", True,
       ("Contract Ref", "Reference", "Contract Reference", "Ref", "Contract ID", "Contract Number",
        "Contract No", "Contract Reference Number", "Reference Number", "Contract Ref No", "Our Reference", "Our Ref", "Agreement Reference", "Contract Code")),
    _f("title", "Service", True,
       ("Service", "Title", "Service Name", "Contract Title", "Service Title", "Project", "Contract Name", "Title of Agreement", "Title of Contract", "Agreement Title", "Contract Subject", "Lot Title")),
    _f("provider", "Provider", True,
       ("Provider", "Provider Name", "Supplier", "Supplier Name", "Organisation", "Delivery Partner", "Contractor", "Contractor Name", "Other Party", "Other Parties to the Contract", "Awarded Supplier", "Supplier (beneficiary)", "Recipient", "Recipient Name", "Grant Recipient", "Beneficiary")),
    _f("strand", "Strand", False, ("Strand", "Priority", "Theme")),
    _f("funding_stream", "Funding stream", False,
       ("Funding Stream", "Funding", "Fund", "Funding Source", "Grant")),
    _f("procurement_route", "Procurement route", False,
       ("Procurement Route", "Route", "Procurement Method", "Award Route", "Procurement", "Procurement Procedure", "Procedure", "Route to Market")),
    _f("value", "Contract value", True,
       ("Contract Value (£)", "Value", "Contract Value", "Total Value", "Amount", "Contract Amount",
        "Value (£)", "Value of Agreement", "Value of Contract", "Total Contract Value", "Contract Total Value", "Whole Life Value", "Award Value", "Estimated Value", "Total Value of Contract", "Grant Amount"), parse_amount),
    _f("start", "Start date", True, ("Start Date", "Start", "Contract Start", "Commencement Date", "Contract Start Date", "Start Date of Agreement", "Agreement Start Date"), parse_date),
    _f("end", "End date", True, ("End Date", "End", "Contract End", "Expiry Date", "Finish Date", "Contract End Date", "End Date of Agreement", "Agreement End Date", "Expiry", "Contract Expiry Date"), parse_date),
    _f("status", "Status", False, ("Status", "Contract Status", "Stage")),
    _f("vcse", "VCSE", False, ("VCSE?", "VCSE", "VCS", "Voluntary Sector", "VCSE Supplier", "VCSE Supplier Type", "VCSE Organisation", "Is VCSE"), parse_bool),
    _f("sme", "SME", False, ("SME?", "SME", "SME Supplier", "Is SME", "Small or Medium Enterprise"), parse_bool),
    _f("contract_manager", "Contract manager", False,
       ("Contract Manager", "Manager", "Lead Officer", "Contract Owner", "Owner", "Responsible Officer", "Contract Officer", "Contact Name")),
    _f("po_number", "PO number", False, ("PO No", "PO Number", "Purchase Order", "PO", "Purchase Order Number", "Purchase Order Reference", "PO Reference", "Order Number")),
    _f("description", "Description", False, ("Description", "Service Description", "Summary", "Details", "Description of Goods and/or Services", "Description of Goods and Services", "Brief Description", "Contract Description")),
    _f("type", "Type", False, ("Type", "Contract Type", "Service Type")),
    _f("review_date", "Review date", False, ("Review Date", "Next Review", "Review", "Contract Review Date", "Date of Review"), parse_date),
    _f("pcc_decision", "PCC decision", False,
       ("PCC Decision", "Decision", "Decision Ref", "Decision Number", "PCC Decision Ref")),
    _f("registration_number", "Charity/company number", False,
       ("Charity/Company number", "Charity Number", "Company Number", "Charity No", "Company No",
        "Registered Charity Number", "Registration Number", "Charity or Company Number")),
)

BUDGET = (
    _f("stream", "Funding stream", True, ("Funding stream", "Stream", "Fund", "Funding", "Funding Source")),
    _f("category", "Category", True, ("Category", "Budget Category", "Cost Category", "Budget Line")),
    _f("strand", "Strand", True, ("Strand", "Priority", "Theme")),
    _f("labour", "Labour / non-labour", False,
       ("Labour / non-labour", "Labour/Non-labour", "Labour", "Pay / non-pay", "Labour Type", "Pay Type")),
    _f("amount", "Allocation", True,
       ("Allocation", "Amount", "Budget", "Annual Budget", "Allocation (£)", "Total Allocation", "Value"),
       parse_amount),
    _f("q1", "Q1", True, ("Q1", "Quarter 1", "Q1 Profile", "Q1 (Apr-Jun)"), parse_amount),
    _f("q2", "Q2", True, ("Q2", "Quarter 2", "Q2 Profile", "Q2 (Jul-Sep)"), parse_amount),
    _f("q3", "Q3", True, ("Q3", "Quarter 3", "Q3 Profile", "Q3 (Oct-Dec)"), parse_amount),
    _f("q4", "Q4", True, ("Q4", "Quarter 4", "Q4 Profile", "Q4 (Jan-Mar)"), parse_amount),
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {"ledger": LEDGER, "commissions": COMMISSIONS, "budget": BUDGET}
KIND_LABELS = {"ledger": "finance ledger export", "commissions": "commissions register", "budget": "budget allocations"}


def header_signature(headers: tuple[str, ...] | list[str]) -> str:
    """A stable fingerprint of a header row, to find the mapping remembered for the last file like it.

    Only the normalised headings count, so a trailing space or a changed "(£)" gives the same signature;
    empty columns at the right are ignored.
    """
    keys = [normalise_header(h) for h in headers]
    while keys and not keys[-1]:
        keys.pop()
    return hashlib.sha256("\x1f".join(keys).encode("utf-8")).hexdigest()[:32]


_LOOSE_PREFIXES = ("our", "total", "the")
_LOOSE_SUFFIXES = ("gbp", "sterling", "pounds")


def loose_key(key: str) -> str:
    """A normalised heading without the words that only decorate it: "ourreference" -> "reference",
    "totalvalue" -> "value", "amountgbp" -> "amount". "" when nothing is left or nothing was taken off."""
    out = key
    for prefix in _LOOSE_PREFIXES:
        if out.startswith(prefix) and len(out) > len(prefix):
            out = out[len(prefix):]
            break
    for suffix in _LOOSE_SUFFIXES:
        if out.endswith(suffix) and len(out) > len(suffix):
            out = out[: -len(suffix)]
            break
    return out if out != key else ""


def match_headers(kind: str, headers: tuple | list) -> dict[str, int]:
    """Automatic mapping field name -> 0-based column index; each column used once, best synonyms first."""
    keys = [normalise_header(h) for h in headers]
    candidates: list[tuple[int, int, int, str]] = []
    for order, spec in enumerate(FIELDS[kind]):
        ranked = [normalise_header(s) for s in (spec.label, spec.name, *spec.synonyms)]
        for col, key in enumerate(keys):
            if key and key in spec.keys:
                candidates.append((ranked.index(key), order, col, spec.name))
            elif key and (loose := loose_key(key)) in spec.keys:
                # "Our Ref", "Total Value", "Amount GBP": after every exact heading, in synonym order.
                candidates.append((len(ranked) + ranked.index(loose), order, col, spec.name))
    mapping: dict[str, int] = {}
    used: set[int] = set()
    for _rank, _order, col, name in sorted(candidates):
        if name not in mapping and col not in used:
            mapping[name] = col
            used.add(col)
    return mapping


_REMEMBERED = 10_000  # above any score from synonyms


def _score(kind: str, mapping: dict[str, int]) -> int:
    required = {s.name for s in FIELDS[kind] if s.required}
    return sum(3 if name in required else 1 for name in mapping)


@dataclass
class Table:
    """Where an import's data is: sheet, header row (Excel numbering), headings and the automatic mapping."""

    workbook: Workbook
    sheet: str
    header_row: int
    headers: tuple[str, ...]
    kind: str
    mapping: dict[str, int]
    missing_required: list[str]
    score: int = 0

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        return FIELDS[self.kind]

    @property
    def signature(self) -> str:
        return header_signature(self.headers)


def _head(workbook: Workbook, sheet: str, n: int) -> list[tuple[int, tuple]]:
    rows = workbook.iter_rows(sheet)
    try:
        return list(islice(rows, n))
    finally:
        close = getattr(rows, "close", None)
        if close:
            close()


def _header_text(values: tuple) -> tuple[str, ...]:
    return tuple(parse_text(v) if v is not None and not isinstance(v, CellError) else "" for v in values)


_COVER_NAMES = re.compile(r"read\s*me|cover|notes?|instructions?|contents|guidance|lookups?|about", re.I)


def find_table(workbook: Workbook, kind: str | None = None, sheet: str | None = None,
               remembered: dict[str, str] | None = None) -> Table:
    """Find the sheet, header row and kind of import in a workbook.

    ``kind`` ("ledger", "commissions", "budget") or None to guess it from the headings; ``sheet`` forces a
    sheet (hidden ones included). ``remembered`` maps the ``header_signature`` of header rows someone has mapped
    before to their kind: such a row is the table even when its headings match no synonym (a mapping saved on
    the web page then serves a scheduled ``flask import`` without --kind). Raises SpreadsheetError for an empty
    workbook, an unknown sheet name, or (when guessing) headings that match no kind of import. Missing required
    columns are not an error here: they are listed in ``missing_required`` for the mapping screen.
    """
    if kind is not None and kind not in FIELDS:
        raise ValueError(f"kind must be one of {sorted(FIELDS)}")
    if sheet is not None:
        sheets = [workbook.sheet(sheet)]
    else:
        sheets = [s for s in workbook.sheets if not s.hidden]
    kinds = [kind] if kind else list(FIELDS)
    best: tuple | None = None
    first_nonempty: tuple[str, int, tuple] | None = None
    for s in sheets:
        for row_no, values in _head(workbook, s.name, HEADER_SCAN_ROWS):
            if not values:
                continue
            if first_nonempty is None:
                first_nonempty = (s.name, row_no, values)
            headers = _header_text(values)
            known = remembered.get(header_signature(headers)) if remembered else None
            for k in kinds:
                mapping = match_headers(k, headers)
                if k == known:
                    score = _REMEMBERED  # someone mapped exactly these headings as this kind before
                elif mapping:
                    score = _score(k, mapping)
                else:
                    continue
                # Prefer the higher score; then a sheet not named like a cover page; then the earlier sheet/row.
                rank = (score, not _COVER_NAMES.search(s.name), -s.index, -row_no, -kinds.index(k))
                if best is None or rank > best[0]:
                    best = (rank, s.name, row_no, headers, k, mapping)
    if first_nonempty is None:
        raise SpreadsheetError("The workbook has no rows of data." if workbook.format != "csv"
                               else "The file has no rows of data.")
    if best is None:
        if kind is None:
            raise SpreadsheetError("None of the column headings were recognised, so this does not look like a "
                                   "finance ledger export, commissions register or budget; check the file, "
                                   "or choose what kind of import it is and map the columns yourself.")
        name, row_no, values = first_nonempty
        best = ((0,), name, row_no, _header_text(values), kind, {})
    rank, name, row_no, headers, k, mapping = best
    missing = [s.name for s in FIELDS[k] if s.required and s.name not in mapping]
    return Table(workbook=workbook, sheet=name, header_row=row_no, headers=headers, kind=k,
                 mapping=mapping, missing_required=missing, score=rank[0])


# --- records ---------------------------------------------------------------------------------------------

DATA, BLANK, TOTALS = "data", "blank", "totals"
_TOTAL_LABEL = re.compile(r"^(?:grand\s*)?(?:sub[\s-]*)?totals?\b", re.I)


class Record(NamedTuple):
    """One row below the header: Excel row number, ``{field: raw value}`` and "data", "blank" or "totals"."""

    row: int
    values: dict
    status: str

    @property
    def note(self) -> str | None:
        if self.status == TOTALS:
            return f"row {self.row}: totals row left out"
        if self.status == BLANK:
            return f"row {self.row}: blank row left out"
        return None


def iter_records(table: Table, mapping: dict[str, int] | None = None) -> Iterator[Record]:
    """Stream the rows below the header as Records, classifying blank and totals rows.

    A totals row is one whose first filled cell is text starting "Total", "Grand total" or "Sub-total" with
    at most that one key field filled, or (after data rows have been seen) a row whose key fields are all
    empty while a money column is filled. Key fields are the required non-money fields of the kind.
    """
    mapping = table.mapping if mapping is None else mapping
    items = list(mapping.items())
    specs = {s.name: s for s in table.fields}
    key_cols = [col for name, col in items if specs.get(name) and specs[name].required and not specs[name].money]
    money_cols = [col for name, col in items if specs.get(name) and specs[name].money]
    seen_data = False
    widest = max((col for _name, col in items), default=-1)
    for row_no, values in table.workbook.iter_rows(table.sheet):
        if row_no <= table.header_row:
            continue
        width = len(values)
        if width > widest:
            record = {name: values[col] for name, col in items}
        else:
            record = {name: (values[col] if col < width else None) for name, col in items}
        if not values:
            yield Record(row_no, record, BLANK)
            continue
        first = values[0]
        if first is None:
            first = next(v for v in values if v is not None)
        if (first.__class__ is str and _TOTAL_LABEL.match(first)
                and sum(1 for c in key_cols if c < width and values[c] is not None) <= 1):
            yield Record(row_no, record, TOTALS)
            continue
        if (seen_data and key_cols and not any(c < width and values[c] is not None for c in key_cols)
                and any(c < width and values[c] is not None for c in money_cols)):
            yield Record(row_no, record, TOTALS)
            continue
        seen_data = True
        yield Record(row_no, record, DATA)


def sample_values(table: Table, n: int = 3) -> dict[int, list]:
    """Up to ``n`` non-blank raw values from the data rows of each column, keyed by 0-based column index."""
    samples: dict[int, list] = {i: [] for i in range(len(table.headers))}
    rows = table.workbook.iter_rows(table.sheet)
    try:
        for row_no, values in islice(rows, table.header_row + SAMPLE_SCAN_ROWS):
            if row_no <= table.header_row or not values:
                continue
            for col, v in enumerate(values):
                if v is None:
                    continue
                bucket = samples.setdefault(col, [])
                if len(bucket) < n:
                    bucket.append(v)
            if all(len(b) >= n for b in samples.values()):
                break
    finally:
        rows.close()  # type: ignore[attr-defined]
    return samples
