"""The import pipeline shared by the web pages and ``flask import``: detect, map, validate, preview, commit, withdraw.

An upload becomes a *draft* (the file kept under DATA_DIR/imports with a generated name, and a small JSON file
beside it holding the kind, sheet, header row, mapping and preview): nothing is written to the database until
the user commits, so a file that is refused at any step leaves the database exactly as it was. Committing
creates the ImportBatch and writes every row in ONE transaction; the batch keeps who, when, the file, its hash,
the mapping, the counts, the problems, the rows left out and the values it replaced (for withdrawal).

Every kind of import reads its rows through one ``analyse`` pass (``_Ledger``, ``_Commissions``, ``_Budget``
classify each row as add / unchanged / changed / error with located problems). The preview and the commit run
the same pass, so what the preview promised is what the commit does (re-checked against the database as it is
at commit time).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import threading
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import IO, Callable, Iterator

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from tracker import audit, files, settings
from tracker.commissions.shares import SHARE_FIELDS, ShareInput, default_shares, set_shares
from tracker.extensions import db
from tracker.imports import checked, matching
from tracker.imports.headers import (
    BLANK, DATA, FIELDS, KIND_LABELS, TOTALS, Table, find_table, header_signature, iter_records, match_headers,
    normalise_header, sample_values,
)
from tracker.funding.rules import closed_year_problem
from tracker.imports.reader import SpreadsheetError, column_letter, open_workbook
from tracker.imports.summary import LedgerSummary
from tracker.imports.values import CellError, ValueProblem, is_blank, parse_text
from tracker.text import clean_filename, strip_control
from tracker.models import (
    BudgetLine, Category, ColumnMapping, Commission, FundingStream, FundingYear, ImportBatch, LedgerTransaction,
    Provider, Strand, utcnow,
)
from tracker.models.commissions import COMMISSION_STATUSES, COMMISSION_TYPES, PROCUREMENT_ROUTES
from tracker.commissions import rules as commission_rules
from tracker.funding.service import profile_difference
from tracker.money import format_pence
from tracker.periods import label_for, parse_label, period_of, period_problem

REALM = "imports"
KINDS = ("ledger", "commissions", "budget")
CHUNK = 2_000  # rows per bulk INSERT: big enough to be fast, small enough to keep memory flat
SHOWN_PROBLEMS = 200  # problems listed on the page; the spreadsheet download has them all
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

ADD, UNCHANGED, CHANGED, ERROR = "add", "unchanged", "changed", "error"

# Commits this process is running now (batch id -> 0), so fail_interrupted_batches knows they are alive; their
# progress is kept where every worker sees it (report_progress).
_progress: dict[int, int] = {}

INTERRUPTED = ("The import was interrupted before it finished (the server or the command stopped), so nothing "
               "was saved. Upload the file again to import it.")
# A committing batch from another machine is taken as interrupted after this long (its process can't be asked).
STALE_AFTER_HOURS = 6


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to someone else
        return True
    return True


def fail_interrupted_batches(now: datetime | None = None) -> list[int]:
    """Mark failed every batch left "committing" by a process that has gone (killed, crashed, restarted).

    Its rows were never committed (they are written in one transaction), so only the batch record needs
    putting right. Runs whenever the import pages or the command are used; returns the ids it marked.
    """
    from datetime import timedelta

    now = now or utcnow()
    host, pid = socket.gethostname(), os.getpid()
    marked = []
    for batch in db.session.scalars(select(ImportBatch).where(ImportBatch.status == "committing")):
        worker_host, _, worker_pid = (batch.worker or ":").rpartition(":")
        if worker_host == host and worker_pid.isdigit():
            gone = not _process_alive(int(worker_pid)) or (int(worker_pid) == pid and batch.id not in _progress)
        else:
            gone = batch.created_at < now - timedelta(hours=STALE_AFTER_HOURS)
        if gone:
            batch.status, batch.error, batch.progress, batch.draft_token = "failed", INTERRUPTED, 0, None
            audit.record(REALM, "negative", batch, f"Import {batch.id} ({batch.filename}) was interrupted; nothing was saved")
            marked.append(batch.id)
    if marked:
        db.session.commit()
    return marked


class ImportRefused(Exception):
    """A file or request the pipeline cannot go on with; ``message`` is for the finance officer."""

    def __init__(self, message: str, status: int = 422, batch: ImportBatch | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.batch = batch


# --- problems ---------------------------------------------------------------------------------------------

def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, CellError):
        return value.code if value.code != CellError.NO_CACHED_VALUE else "(formula)"
    try:
        return strip_control(parse_text(value))[:100]
    except ValueProblem:
        return strip_control(str(value))[:100]


def problem(sheet: str, row: int, column: str, value: object, message: str, letter: str = "") -> dict:
    return {"sheet": sheet, "row": row, "column": column, "letter": letter, "value": _shown(value), "message": message}


def problem_text(p: dict) -> str:
    """"Transactions, row 14, Net: '£1,2,3' is not an amount"."""
    where = f"{p['sheet']}, row {p['row']}" if p.get("row") else p["sheet"]
    if p.get("column"):
        where += f", {p['column']}"
    value = f" '{p['value']}'" if p.get("value") else ""
    return f"{where}:{value} {p['message']}"


# --- drafts -----------------------------------------------------------------------------------------------

@dataclass
class Draft:
    """An uploaded file on its way to being imported (kept as JSON beside the file, not in the database)."""

    token: str
    kind: str
    filename: str
    stored_name: str
    sha256: str
    size_bytes: int
    sheet: str
    header_row: int
    headers: list[str]
    mapping: dict[str, int]
    mapping_source: str  # automatic, remembered or chosen
    sheets: list[str] = field(default_factory=list)
    year_id: int | None = None
    year_label: str = ""
    created_by_id: int | None = None
    created_at: str = ""
    preview: dict | None = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def fields(self):
        return FIELDS[self.kind]

    @property
    def path(self) -> str:
        return str(files.locate(f"{FOLDER}/{self.stored_name}"))

    def header_of(self, col: int | None) -> str:
        if col is None or col >= len(self.headers):
            return ""
        return self.headers[col] or f"column {column_letter(col)}"

    @property
    def mapping_by_header(self) -> dict[str, str]:
        return {name: self.header_of(col) for name, col in self.mapping.items()}

    @property
    def missing_required(self) -> list[str]:
        return [s.label for s in self.fields if s.required and s.name not in self.mapping]

    def save(self) -> None:
        files.write(FOLDER, _draft_json(self.token), json.dumps(asdict(self), default=str).encode("utf-8"))


FOLDER = "imports"  # drafts and imported files, under DATA_DIR


def imports_dir() -> str:
    """The folder of drafts and imported files (made when first needed), for what works on its files directly:
    the preview's checked rows, SQLite progress files and the sweep."""
    path = files.locate(FOLDER)
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _draft_json(token: str) -> str:
    return f"draft-{token}.json"


def load_draft(token: str) -> Draft | None:
    if not _TOKEN.match(token or ""):
        return None
    try:
        return Draft(**json.loads(files.read(f"{FOLDER}/{_draft_json(token)}")))
    except (OSError, ValueError, TypeError):
        return None


def discard_draft(draft: Draft, keep_file: bool = False) -> None:
    for name in ([] if keep_file else [draft.stored_name]) + [_draft_json(draft.token), f"rows-{draft.token}.jsonl"]:
        try:
            files.remove(f"{FOLDER}/{name}")
        except (OSError, files.OutsideDataDir):
            pass


def _extension(filename: str, fmt: str) -> str:
    return {"csv": ".csv", "xlsm": ".xlsm"}.get(fmt, ".xlsx")


def earlier_batch(sha256: str) -> ImportBatch | None:
    """A committed (not withdrawn) import of exactly the same file, or one committing now."""
    return db.session.scalar(select(ImportBatch).where(ImportBatch.sha256 == sha256,
                                                       ImportBatch.status.in_(("committing", "committed")))
                             .order_by(ImportBatch.id.desc()).limit(1))


def _already_imported(before: ImportBatch) -> str:
    if before.status == "committing":
        return (f"This file is being imported now (import {before.id}, {before.filename}); wait for it to finish "
                "rather than importing it again.")
    return (f"This file has already been imported (import {before.id}, {before.filename}). "
            "Withdraw that import first if you need to load it again.")


def batch_of_draft(token: str) -> ImportBatch | None:
    """The batch a draft was committed as (the draft itself is gone once it is committed)."""
    if not _TOKEN.match(token or ""):
        return None
    return db.session.scalar(select(ImportBatch).where(ImportBatch.draft_token == token))


class AlreadyCommitted(ImportRefused):
    """This draft was claimed by another request (a double click, a second tab): its batch is the answer."""


def find_year(label: str | None) -> FundingYear | None:
    if not label:
        return None
    return db.session.scalar(select(FundingYear).where(FundingYear.label == label.strip()))


def start_draft(stream: IO[bytes], filename: str, *, kind: str | None = None, year_label: str | None = None,
                sheet: str | None = None, user_id: int | None = None) -> Draft:
    """Keep the uploaded file, check it is a readable spreadsheet we have not imported before, find its table
    and choose the mapping (the one remembered for these headers, else the automatic one).

    Raises ImportRefused (422, or 409 for a file already imported) and keeps nothing when it does.
    """
    filename = clean_filename(filename)  # no CR/LF, no right-to-left override, at most 255 characters
    if kind is not None and kind not in KINDS:
        raise ImportRefused("Choose what the file is: a finance ledger export, a commissions register or a budget.")
    year = None
    if year_label:
        try:
            parse_label(year_label)
        except ValueError:
            raise ImportRefused(f"The funding year '{year_label}' must look like 2025-26.") from None
        year = find_year(year_label)
        if year is None:
            raise ImportRefused(f"There is no funding year {year_label}; set it up first.")
    token = secrets.token_urlsafe(18)
    upload = files.write(FOLDER, f"upload-{token}.part", stream)
    tmp_path, sha, size = str(files.locate(upload.path)), upload.sha256, upload.size_bytes
    try:
        if size == 0:
            raise ImportRefused("The file is empty; choose the spreadsheet again and upload it.")
        before = earlier_batch(sha)
        if before is not None:
            raise ImportRefused(_already_imported(before), 409, batch=before)
        try:
            with open_workbook(tmp_path, filename, **_limits()) as wb:
                table = find_table(wb, kind=kind, sheet=sheet or None)
                sheets = [s.name for s in wb.sheets if not s.hidden]
                fmt = wb.format
        except KeyError:
            raise ImportRefused(f"The workbook has no sheet called '{sheet}'.") from None
        except SpreadsheetError as exc:
            raise ImportRefused(exc.message) from None
        mapping, source = _remembered_mapping(table.kind, list(table.headers))
        if mapping is None:
            mapping, source = dict(table.mapping), "automatic"
        missing = [s for s in FIELDS[table.kind] if s.required and s.name not in mapping]
        spare = [h for i, h in enumerate(table.headers) if h and i not in mapping.values()]
        if missing and len(spare) < len(missing):
            # Nothing left in the file could be chosen for the missing fields: say so now, not on the mapping page.
            found = ", ".join(f"'{h}'" for h in table.headers if h) or "none"
            raise ImportRefused(
                f"The {KIND_LABELS[table.kind]} needs columns for {_and(s.label for s in missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not in sheet '{table.sheet}' (headings found on row "
                f"{table.header_row}: {found}). Add the missing columns and upload the file again.")
        if table.kind == "budget" and year is None:
            raise ImportRefused("Choose the funding year this budget is for.")
        stored = f"{token}{_extension(filename, fmt)}"
        files.rename(upload.path, stored)
    except BaseException:
        files.remove(upload.path)
        raise
    draft = Draft(token=token, kind=table.kind, filename=filename,
                  stored_name=stored, sha256=sha, size_bytes=size, sheet=table.sheet, header_row=table.header_row,
                  headers=[h or "" for h in table.headers], mapping=mapping, mapping_source=source, sheets=sheets,
                  year_id=year.id if year else None, year_label=year.label if year else "",
                  created_by_id=user_id, created_at=utcnow().isoformat(timespec="seconds"))
    draft.save()
    return draft


def _and(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _limits() -> dict:
    cfg = current_app.config
    return {"max_uncompressed": int(cfg.get("IMPORT_MAX_UNCOMPRESSED_MB", 200)) * 1024 * 1024,
            "max_rows": int(cfg.get("IMPORT_MAX_ROWS", 200_000))}


def _remembered_mapping(kind: str, headers: list[str]) -> tuple[dict[str, int] | None, str]:
    saved = db.session.scalar(select(ColumnMapping).where(ColumnMapping.kind == kind,
                                                          ColumnMapping.header_signature == header_signature(headers)))
    if saved is None:
        return None, ""
    by_key = {}
    for i, h in enumerate(headers):
        by_key.setdefault(normalise_header(h), i)
    names = {s.name for s in FIELDS[kind]}
    mapping = {name: by_key[normalise_header(h)] for name, h in (saved.mapping or {}).items()
               if name in names and normalise_header(h) in by_key}
    return mapping, "remembered"


def remember_mapping(draft: Draft, undo: dict | None = None) -> None:
    """Keep the draft's mapping for files with the same headers; ``undo`` (a batch's) records what this did, so
    withdrawing the import forgets a mapping it made or puts back the one it replaced."""
    signature = header_signature(draft.headers)
    saved = db.session.scalar(select(ColumnMapping).where(ColumnMapping.kind == draft.kind,
                                                          ColumnMapping.header_signature == signature))
    before = None if saved is None else _dump(saved, ("mapping", "updated_at"))
    if saved is None:
        saved = ColumnMapping(kind=draft.kind, header_signature=signature)
        db.session.add(saved)
    saved.mapping = draft.mapping_by_header
    saved.updated_at = utcnow()
    db.session.flush()
    if undo is not None:
        if before is None:
            undo["created"].setdefault("ColumnMapping", []).append(saved.id)
        elif before["mapping"] != saved.mapping:
            undo["updated"].append({"model": "ColumnMapping", "id": saved.id, "before": before})


def mapping_choices(draft: Draft) -> list[dict]:
    """For the mapping screen: each field, the column chosen, the choices and a few sample values per column."""
    with open_workbook(draft.path, draft.filename, **_limits()) as wb:
        table = _table(draft, wb)
        samples = sample_values(table)
    columns = [(i, f"{column_letter(i)}: {h}" if h else f"{column_letter(i)}: (no heading)")
               for i, h in enumerate(draft.headers)]
    rows = []
    for spec in draft.fields:
        col = draft.mapping.get(spec.name)
        rows.append({"name": spec.name, "label": spec.label, "required": spec.required, "column": col,
                     "samples": [_shown(v) for v in samples.get(col, [])] if col is not None else []})
    return [{"columns": columns, "fields": rows}]


def set_mapping(draft: Draft, chosen: dict[str, str]) -> dict[str, str]:
    """Apply the user's choices (field -> column index as text, "" for none). Returns errors by field."""
    errors: dict[str, str] = {}
    mapping: dict[str, int] = {}
    used: dict[int, str] = {}
    for spec in draft.fields:
        raw = (chosen.get(spec.name) or "").strip()
        if not raw:
            if spec.required:
                errors[spec.name] = f"Choose the column that holds the {spec.label.lower()}"
            continue
        if not raw.isdigit() or int(raw) >= len(draft.headers):
            errors[spec.name] = "Choose one of the file's columns"
            continue
        col = int(raw)
        if col in used:
            errors[spec.name] = f"Column {column_letter(col)} is already chosen for {used[col]}"
            continue
        used[col] = spec.label
        mapping[spec.name] = col
    if not errors:
        if mapping != draft.mapping:
            draft.mapping_source = "chosen"
        draft.mapping = mapping
        draft.preview = None
        draft.save()
    return errors


def map_columns(draft: Draft, pairs) -> list[str]:
    """Apply ``FIELD=Column heading`` choices (``flask import --map``) over the draft's mapping, through the same
    checks as the mapping page (``set_mapping``). Returns the problems, each naming the choice it is about."""
    by_name = {}
    for spec in draft.fields:
        by_name[spec.name.lower()] = by_name[normalise_header(spec.label)] = spec
    columns: dict[str, int] = {}
    for i, h in enumerate(draft.headers):
        columns.setdefault(normalise_header(h), i)
    chosen = {name: str(col) for name, col in draft.mapping.items()}
    problems = []
    for pair in pairs:
        field_text, sep, heading = (pair or "").partition("=")
        spec = by_name.get(field_text.strip().lower()) or by_name.get(normalise_header(field_text))
        if not sep or spec is None:
            problems.append(f"'{pair[:80]}': say FIELD=Column heading, where FIELD is one of "
                            f"{', '.join(s.name for s in draft.fields)}")
            continue
        if not heading.strip():
            chosen.pop(spec.name, None)
            continue
        col = columns.get(normalise_header(heading))
        if col is None:
            problems.append(f"'{pair[:80]}': the file has no column headed '{heading.strip()[:60]}' (headings: "
                            f"{', '.join(repr(h) for h in draft.headers if h)})")
            continue
        chosen = {k: v for k, v in chosen.items() if v != str(col)}  # the column moves to this field
        chosen[spec.name] = str(col)
    if problems:
        return problems
    errors = set_mapping(draft, chosen)
    return [f"{field}: {message}" for field, message in errors.items()]


def _table(draft: Draft, wb) -> Table:
    return Table(workbook=wb, sheet=draft.sheet, header_row=draft.header_row, headers=tuple(draft.headers),
                 kind=draft.kind, mapping=dict(draft.mapping), missing_required=[])


# --- the analysis pass --------------------------------------------------------------------------------------

@dataclass
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


def _by_column(parser: Callable[[object], object]) -> Callable[[object], object]:
    """``parser`` for one column, remembering what each distinct value parsed to: a ledger repeats its dates,
    suppliers, accounts and cost centres thousands of times, so most cells become one dictionary read. Parsers
    are pure, so the answer (or the problem) is the same every time; values are told apart by type too
    (1, 1.0 and True are equal in Python, but not as cells)."""
    memory: dict = {}
    miss = object()

    def parse(value):
        key = (value.__class__, value)
        try:
            hit = memory.get(key, miss)
        except TypeError:  # an unhashable value: parse it every time
            return parser(value)
        if hit is miss:
            try:
                hit = (True, parser(value))
            except ValueProblem as exc:
                hit = (False, str(exc))
            if len(memory) < COLUMN_MEMORY:
                memory[key] = hit
        if hit[0]:
            return hit[1]
        raise ValueProblem(hit[1])

    return parse


class _Kind:
    """What one kind of import does with a row. Subclasses load their lookups once in ``__init__``."""

    money_field = ""

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.sheet = draft.sheet
        self.specs = [(s.name, _by_column(s.parser), s.required, draft.mapping[s.name]) for s in draft.fields
                      if s.name in draft.mapping]
        self.labels = {s.name: s.label for s in draft.fields}

    def where(self, name: str) -> tuple[str, str]:
        col = self.draft.mapping.get(name)
        return self.draft.header_of(col) or self.labels.get(name, name), column_letter(col) if col is not None else ""

    def located(self, row: int, name: str, value: object, message: str) -> dict:
        column, letter = self.where(name)
        return problem(self.sheet, row, column, value, message, letter)

    def parse(self, row_no: int, values: dict) -> tuple[dict, list]:
        out: dict = {}
        problems: list = []
        for name, parser, required, _col in self.specs:
            value = values.get(name)
            if not required and is_blank(value):
                continue  # an optional cell left empty (a journal's period or VAT) is simply not given
            try:
                parsed = parser(value)
            except ValueProblem as exc:
                problems.append(self.located(row_no, name, value, str(exc)))
                continue
            if required and parsed == "":
                problems.append(self.located(row_no, name, value, "is blank"))
                continue
            limit = _MAX_LEN.get(self.draft.kind, {}).get(name)
            if limit and isinstance(parsed, str) and len(parsed) > limit:
                problems.append(self.located(row_no, name, value, f"is longer than {limit} characters"))
                continue
            out[name] = parsed
        return out, problems

    def check(self, row_no: int, values: dict) -> Row:  # pragma: no cover - abstract
        raise NotImplementedError


def _closed_message(label: str) -> str:
    return f"falls in funding year {label}, which is closed, so it cannot be imported"


class _Ledger(_Kind):
    money_field = "net"
    COMPARE = ("posting_date", "period", "cost_centre", "account_code", "account_description", "supplier_id",
               "supplier_name", "invoice_number", "po_number", "narrative", "vat_pence", "gross_pence",
               "transaction_type")

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft)
        self.years = {y.label: (y.id, y.status) for y in db.session.execute(
            select(FundingYear.label, FundingYear.id, FundingYear.status))}
        self.year_objs = {y.id: y for y in db.session.scalars(select(FundingYear))}
        cols = [getattr(LedgerTransaction, c) for c in self.COMPARE]
        self.existing: dict[tuple[str, int], tuple] = {}  # (id, *COMPARE, funding_year_id)
        for r in db.session.execute(select(LedgerTransaction.reference, LedgerTransaction.net_pence,
                                           LedgerTransaction.id, *cols, LedgerTransaction.funding_year_id)):
            self.existing[(r[0], r[1])] = tuple(r[2:])
        self.seen: dict[tuple[str, int], int] = {}
        self.matcher = matching.Matcher()
        self.adjustment_period = settings.get("adjustment_period")
        self.compared = [i for i, c in enumerate(self.COMPARE) if self._mapped(c)]

    def _mapped(self, column: str) -> bool:
        name = {"vat_pence": "vat", "gross_pence": "gross", "transaction_type": "type"}.get(column, column)
        return name in self.draft.mapping or column in ("period",)

    @staticmethod
    def _type(text: str, net: int) -> str:
        t = (text or "").strip().lower()
        for prefix, kind in (("inv", "invoice"), ("cr", "credit"), ("j", "journal"), ("acc", "accrual")):
            if t.startswith(prefix):
                return kind
        return "credit" if net < 0 else "invoice"

    def check(self, row_no: int, values: dict) -> Row:
        p, problems = self.parse(row_no, values)
        net = p.get("net")
        posting = p.get("posting_date")
        year_id = None
        if posting is not None:
            label = label_for(posting)
            year = self.years.get(label)
            if year is None:
                problems.append(self.located(row_no, "posting_date", values.get("posting_date"),
                                             f"is in funding year {label}, and no funding year {label} is set up"))
            elif year[1] == "closed":
                problems.append(self.located(row_no, "posting_date", values.get("posting_date"),
                                             _closed_message(label)))
            else:
                year_id = year[0]
            if p.get("period") is not None:
                # The posting date decides the period and quarter; a period column that disagrees is an error.
                wrong = period_problem(p["period"], posting, self.adjustment_period)
                if wrong:
                    problems.append(self.located(row_no, "period", values.get("period"), wrong))
        if problems:
            return Row(row_no, ERROR, {}, problems, values, money=net)
        key = (p["reference"], net)
        if key in self.seen:
            problem_ = self.located(row_no, "reference", p["reference"],
                                    f"repeats row {self.seen[key]} (same reference and amount), so it would be "
                                    "counted twice")
            return Row(row_no, ERROR, {}, [problem_], values, money=net)
        self.seen[key] = row_no
        vat = p.get("vat", 0)
        data = {
            "reference": p["reference"], "posting_date": posting, "period": period_of(posting),
            "funding_year_id": year_id, "cost_centre": p.get("cost_centre", ""),
            "account_code": p.get("account_code", ""), "account_description": p.get("account_description", ""),
            "supplier_id": p.get("supplier_id", ""), "supplier_name": p.get("supplier_name", ""),
            "invoice_number": p.get("invoice_number", ""), "po_number": p.get("po_number", ""),
            "narrative": p.get("narrative", ""), "net_pence": net, "vat_pence": vat,
            "gross_pence": p.get("gross", net + vat), "transaction_type": self._type(p.get("type", ""), net),
        }
        old = self.existing.get(key)
        if old is None:
            commission_id, line_id, method = self.matcher.match(data["po_number"], data["supplier_id"],
                                                                data["supplier_name"], posting,
                                                                data["account_code"], year_id)
            data.update(commission_id=commission_id, budget_line_id=line_id, match_method=method)
            return Row(row_no, ADD, data, [], values, money=net)
        new = tuple(data[c] for c in self.COMPARE)
        if all(old[i + 1] == new[i] for i in self.compared):
            return Row(row_no, UNCHANGED, data, [], values, existing_id=old[0], money=net)
        closed = closed_year_problem(self.year_objs.get(old[-1]), self.year_objs.get(year_id))
        if closed:
            return Row(row_no, ERROR, {}, [self.located(row_no, "reference", p["reference"],
                                                        f"is already imported and would change: {closed}")],
                       values, money=net)
        changed = {c: data[c] for c in self.COMPARE if self._mapped(c)}
        changed["funding_year_id"] = year_id  # a new date may fall in another (open) year: the line follows it
        return Row(row_no, CHANGED, changed, [], values, existing_id=old[0], money=net)


class _Commissions(_Kind):
    money_field = "value"
    COMPARE = ("title", "provider_id", "strand_id", "funding_year_id", "budget_line_id", "procurement_route",
               "value_pence", "start_date", "end_date", "status", "contract_manager", "po_number", "description",
               "commission_type", "review_date", "pcc_decision_ref")
    OPTIONAL = {"procurement_route": "procurement_route", "status": "status", "contract_manager": "contract_manager",
                "po_number": "po_number", "description": "description", "commission_type": "type",
                "review_date": "review_date", "pcc_decision_ref": "pcc_decision", "strand_id": "strand",
                "budget_line_id": "funding_stream"}

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft)
        self.years = {y.label: (y.id, y.status) for y in db.session.execute(
            select(FundingYear.label, FundingYear.id, FundingYear.status))}
        self.strands = {n.lower(): i for i, n in db.session.execute(select(Strand.id, Strand.name))}
        self.streams = {n.lower(): i for i, n in db.session.execute(select(FundingStream.id, FundingStream.name))}
        self.lines: dict[tuple[int, int, int], int] = {}
        self.line_stream: dict[int, int] = {}
        for line in db.session.execute(select(BudgetLine.id, BudgetLine.funding_year_id, BudgetLine.funding_stream_id,
                                              BudgetLine.strand_id).order_by(BudgetLine.id)):
            self.lines.setdefault((line.funding_year_id, line.funding_stream_id, line.strand_id), line.id)
            self.line_stream[line.id] = line.funding_stream_id
        self.providers = {n.lower(): i for i, n in db.session.execute(select(Provider.id, Provider.name))}
        self.existing = {c.reference.lower(): c for c in db.session.scalars(select(Commission))}
        self.year_objs = {y.id: y for y in db.session.scalars(select(FundingYear))}
        self.seen: dict[str, int] = {}
        self.routes = {r.lower(): r for r in PROCUREMENT_ROUTES}
        self.notes: list[str] = []

    def check(self, row_no: int, values: dict) -> Row:
        p, problems = self.parse(row_no, values)
        ref = p.get("reference")
        year = None
        if ref and ref.lower() in self.seen:
            problems.append(self.located(row_no, "reference", ref, f"repeats row {self.seen[ref.lower()]}"))
        elif ref:
            self.seen[ref.lower()] = row_no
        label = self.draft.year_label or (label_for(p["start"]) if p.get("start") else "")
        if label:
            year = self.years.get(label)
            if year is None:
                problems.append(self.located(row_no, "start", values.get("start"),
                                             f"is in funding year {label}, and no funding year {label} is set up"))
            elif year[1] == "closed":
                problems.append(self.located(row_no, "start", values.get("start"), _closed_message(label)))
        # The form's rules (tracker/commissions/rules.py), with the same edges.
        if not commission_rules.end_after_start(p.get("start"), p.get("end")):
            problems.append(self.located(row_no, "end", values.get("end"), "is not after the start date"))
        if not commission_rules.value_above_zero(p.get("value")):
            problems.append(self.located(row_no, "value", values.get("value"), "must be more than £0.00"))
        strand_id = None
        if p.get("strand"):
            strand_id = self.strands.get(p["strand"].lower())
            if strand_id is None:
                problems.append(self.located(row_no, "strand", p["strand"], "is not a strand set up in the tracker"))
        line_id = None
        if p.get("funding_stream"):
            stream_id = self.streams.get(p["funding_stream"].lower())
            if stream_id is None:
                problems.append(self.located(row_no, "funding_stream", p["funding_stream"],
                                             "is not a funding stream set up in the tracker"))
            elif year and strand_id:
                current = self.existing.get((ref or "").lower())
                current_lines = [s.budget_line_id for s in current.funding_shares
                                 if s.funding_year_id == year[0]] if current is not None else []
                same_stream = [i for i in current_lines if self.line_stream.get(i) == stream_id]
                if same_stream:
                    line_id = same_stream[0]  # the register names only the stream: the contract's line stands
                else:
                    line_id = self.lines.get((year[0], stream_id, strand_id))
                if line_id is None:
                    # Not an error: the commission is still worth having; the note says why it has no budget line.
                    self.notes.append(f"{self.sheet}, row {row_no}: no {p['funding_stream']} budget line for "
                                      f"{p['strand']} in {label}, so the commission is not linked to a budget line")
        route = None
        if p.get("procurement_route"):
            route = self.routes.get(p["procurement_route"].lower())
            if route is None:
                problems.append(self.located(row_no, "procurement_route", p["procurement_route"],
                                             f"is not a procurement route ({', '.join(PROCUREMENT_ROUTES)})"))
        status = None
        if p.get("status"):
            status = p["status"].lower()
            if status not in COMMISSION_STATUSES:
                problems.append(self.located(row_no, "status", p["status"],
                                             f"is not a status ({', '.join(COMMISSION_STATUSES)})"))
        ctype = None
        if p.get("type"):
            ctype = p["type"].lower()
            if ctype not in COMMISSION_TYPES:
                problems.append(self.located(row_no, "type", p["type"], "is not contract or grant"))
        existing = self.existing.get(ref.lower()) if ref else None
        if existing is None and not p.get("strand") and "strand" not in [q.get("field") for q in problems]:
            problems.append(self.located(row_no, "strand", p.get("strand"), "is blank, and a new commission needs "
                                         "its strand"))
        if problems:
            return Row(row_no, ERROR, {}, problems, values, money=p.get("value"))
        data = {"reference": ref, "title": p["title"], "provider": p["provider"], "funding_year_id": year[0],
                "value_pence": p["value"], "start_date": p["start"], "end_date": p["end"]}
        optional = {"strand_id": strand_id, "budget_line_id": line_id, "procurement_route": route, "status": status,
                    "contract_manager": p.get("contract_manager"), "po_number": p.get("po_number"),
                    "description": p.get("description"), "commission_type": ctype,
                    "review_date": p.get("review_date"), "pcc_decision_ref": p.get("pcc_decision")}
        for column, source in self.OPTIONAL.items():
            if source in self.draft.mapping:
                data[column] = optional[column]
        for flag in ("vcse", "sme"):
            if flag in p:
                data[flag] = p[flag]
        if existing is None:
            return Row(row_no, ADD, data, [], values, money=p["value"])
        provider_id = self.providers.get(p["provider"].lower())
        existing_line = next((sh.budget_line_id for sh in existing.funding_shares
                              if sh.funding_year_id == data["funding_year_id"]), None)
        same = provider_id == existing.provider_id and all(
            (existing_line if c == "budget_line_id" else getattr(existing, c)) == data[c]
            for c in self.COMPARE if c in data and c != "provider_id")
        if same and provider_id is not None:
            provider = existing.provider
            same = all(getattr(provider, f) == data[f] for f in ("vcse", "sme") if f in data)
        if not same:
            closed = closed_year_problem(self.year_objs.get(existing.funding_year_id),
                                         self.year_objs.get(data["funding_year_id"]))
            if closed:
                return Row(row_no, ERROR, {}, [self.located(row_no, "reference", ref, f"is commission "
                                                            f"{existing.reference}, which would change: {closed}")],
                           values, money=p["value"])
        return Row(row_no, UNCHANGED if same else CHANGED, data, [], values, existing_id=existing.id,
                   money=p["value"])


class _Budget(_Kind):
    money_field = "amount"
    COMPARE = ("labour", "amount_pence", "q1_pence", "q2_pence", "q3_pence", "q4_pence")

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft)
        self.year = db.session.get(FundingYear, draft.year_id) if draft.year_id else None
        self.streams = {n.lower(): i for i, n in db.session.execute(select(FundingStream.id, FundingStream.name))}
        self.categories = {c.name.lower(): c for c in db.session.scalars(select(Category))}
        self.strands = {n.lower(): i for i, n in db.session.execute(select(Strand.id, Strand.name))}
        self.existing = {}
        if self.year is not None:
            for line in db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == self.year.id)):
                self.existing[(line.funding_stream_id, line.category_id, line.strand_id)] = line
        self.seen: dict[tuple, int] = {}

    def check(self, row_no: int, values: dict) -> Row:
        p, problems = self.parse(row_no, values)
        if self.year is None:
            problems.append(problem(self.sheet, row_no, "", "", "has no funding year: choose the year this budget is for"))
        elif self.year.is_closed:
            problems.append(problem(self.sheet, row_no, "", "", f"is for funding year {self.year.label}, which is "
                                    "closed, so its budget cannot be changed"))
        ids = []
        for name, lookup, what in (("stream", self.streams, "a funding stream"),
                                   ("category", {k: v.id for k, v in self.categories.items()}, "a budget category"),
                                   ("strand", self.strands, "a strand")):
            found = lookup.get((p.get(name) or "").lower()) if p.get(name) else None
            if p.get(name) and found is None:
                problems.append(self.located(row_no, name, p[name], f"is not {what} set up in the tracker"))
            ids.append(found)
        labour = None
        if p.get("labour"):
            text = normalise_header(p["labour"])
            if text in ("labour", "pay", "y", "yes", "true"):
                labour = True
            elif text in ("nonlabour", "nonpay", "n", "no", "false"):
                labour = False
            else:
                problems.append(self.located(row_no, "labour", p["labour"], "is not Labour or Non-labour"))
        amount = p.get("amount")
        quarters = [p.get(q) for q in ("q1", "q2", "q3", "q4")]
        if amount is not None and amount < 0:
            problems.append(self.located(row_no, "amount", values.get("amount"), "is negative"))
        if amount is not None and None not in quarters and profile_difference(amount, quarters) != 0:
            # The budget line form's rule (tracker/funding/service.py).
            problems.append(self.located(row_no, "amount", values.get("amount"),
                                         f"does not equal the Q1-Q4 profile, which adds up to "
                                         f"{format_pence(sum(quarters))}"))
        key = tuple(ids)
        if None not in key and key in self.seen:
            problems.append(self.located(row_no, "stream", p.get("stream"),
                                         f"repeats row {self.seen[key]} (same stream, category and strand)"))
        elif None not in key:
            self.seen[key] = row_no
        if problems:
            return Row(row_no, ERROR, {}, problems, values, money=amount)
        if labour is None:
            labour = self.categories[p["category"].lower()].labour
        data = {"funding_year_id": self.year.id, "funding_stream_id": ids[0], "category_id": ids[1],
                "strand_id": ids[2], "labour": labour, "amount_pence": amount, "q1_pence": quarters[0],
                "q2_pence": quarters[1], "q3_pence": quarters[2], "q4_pence": quarters[3]}
        existing = self.existing.get(key)
        if existing is None:
            return Row(row_no, ADD, data, [], values, money=amount)
        same = all(getattr(existing, c) == data[c] for c in self.COMPARE)
        return Row(row_no, UNCHANGED if same else CHANGED, data, [], values, existing_id=existing.id, money=amount)


_KINDS = {"ledger": _Ledger, "commissions": _Commissions, "budget": _Budget}


@dataclass
class Pass:
    """What one read of the file found: counts, totals, notes and problems (rows are streamed to ``on_row``)."""

    counts: dict = field(default_factory=lambda: {"read": 0, ADD: 0, UNCHANGED: 0, CHANGED: 0, ERROR: 0,
                                                  "blank": 0, "totals": 0})
    file_pence: int = 0
    import_pence: int = 0
    totals_row_pence: int | None = None
    notes: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    error_rows: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)  # a ledger's sample rows, dates, matching and years (summary.py)


def analyse(draft: Draft, on_row: Callable[[Row], None] | None = None) -> Pass:
    """Read the file once, classify every row and hand each to ``on_row`` (the commit's writer)."""
    result = Pass()
    kind = _KINDS[draft.kind](draft)
    counts = result.counts
    ledger = LedgerSummary() if draft.kind == "ledger" else None
    try:
        with open_workbook(draft.path, draft.filename, **_limits()) as wb:
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
                        ledger.take(row.action, row.data, row.money)
                if on_row is not None:
                    on_row(row)
    except SpreadsheetError as exc:
        raise ImportRefused(exc.message) from None
    result.notes.extend(getattr(kind, "notes", []))
    if ledger is not None:
        result.summary = ledger.as_dict()
    if counts["blank"]:
        result.notes.append(f"{counts['blank']} blank row{'s' if counts['blank'] != 1 else ''} left out")
    if counts["read"] == 0:
        raise ImportRefused(f"Sheet '{draft.sheet}' has headings on row {draft.header_row} but no rows of data "
                            "below them.")
    return result


def _amount(value) -> int | None:
    from tracker.imports.values import parse_amount

    return None if value is None else parse_amount(value)


def _rows_path(draft: Draft) -> str:
    return os.path.join(imports_dir(), f"rows-{draft.token}.jsonl")


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
        "totals_row_pence": found.totals_row_pence, "notes": found.notes, "problems": found.problems,
        "error_rows": found.error_rows, "at": utcnow().isoformat(timespec="seconds"), "summary": found.summary,
    }
    draft.save()
    return draft.preview


# --- commit -------------------------------------------------------------------------------------------------

def create_batch(draft: Draft, *, leave_out: bool, user_id: int | None) -> ImportBatch:
    """Check the draft may be committed and record the batch (status committing) in its own short transaction."""
    if draft.preview is None:
        preview(draft)
    errors = draft.preview["counts"][ERROR]
    if errors and not leave_out:
        raise ImportRefused(f"{errors} row{'s have' if errors != 1 else ' has'} problems. Correct the file and "
                            "upload it again, or choose to leave those rows out.", 422)
    _refuse_if_taken(draft)
    if not os.path.exists(draft.path):
        raise ImportRefused("The uploaded file is no longer available; upload it again.", 410)
    batch = ImportBatch(kind=draft.kind, filename=draft.filename, stored_path=f"imports/{draft.stored_name}",
                        sha256=draft.sha256, size_bytes=draft.size_bytes, sheet_name=draft.sheet[:100],
                        funding_year_id=draft.year_id, status="committing",
                        mapping={"columns": draft.mapping_by_header, "source": draft.mapping_source,
                                 "header_row": draft.header_row},
                        counts=dict(draft.preview["counts"]), problems=draft.preview["problems"],
                        total_rows=draft.preview["counts"]["read"], progress=0, created_by_id=user_id,
                        worker=this_worker(), draft_token=draft.token,
                        undo={"updated": [], "created": {}, "leave_out": bool(leave_out)})
    # The claim: the draft's token and (for committing and committed batches) the file's hash are unique, so
    # of two requests committing at once exactly one inserts its batch; the other is sent to that batch.
    try:
        db.session.add(batch)
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        _refuse_if_taken(draft)
        raise ImportRefused("This file is being imported by someone else now; wait for that import to finish.",
                            409) from None
    _progress[batch.id] = 0  # from now on this process is at work on it (see fail_interrupted_batches)
    try:
        db.session.commit()
    except Exception:
        _progress.pop(batch.id, None)
        raise
    return batch


def _refuse_if_taken(draft: Draft) -> None:
    """AlreadyCommitted when this draft has a batch (another request claimed it), ImportRefused (409) when
    another import of the same file is committing or committed. The file check runs first, so a claim made
    between the two looks is still seen as this draft's."""
    before = earlier_batch(draft.sha256)
    claimed = before if before is not None and before.draft_token == draft.token else batch_of_draft(draft.token)
    if claimed is not None:
        raise AlreadyCommitted(f"This upload has already been committed as import {claimed.id}.", 409, batch=claimed)
    if before is not None:
        raise ImportRefused(_already_imported(before), 409, batch=before)


def _failure_sentence(exc: Exception) -> str:
    """What a failed commit tells the finance officer: a sentence, never the database's own error text."""
    if isinstance(exc, ImportRefused):
        return exc.message
    if isinstance(exc, IntegrityError):
        text = str(exc.orig if getattr(exc, "orig", None) is not None else exc)
        if "ledger_transactions" in text or "reference_net" in text:
            return ("Some of these ledger lines (the same transaction reference and net amount) were saved by "
                    "another import while this one ran, so nothing was saved. Upload the file again: those "
                    "lines will show as already present.")
        return ("Some rows clash with records saved by someone else while this import ran (the same reference "
                "or the same budget line), so nothing was saved. Upload the file again to see what is there now.")
    if isinstance(exc, DataError):
        return ("A value in the file does not fit the database (too long or out of range), so nothing was saved. "
                "Upload the file again: the check lists the cell.")
    if isinstance(exc, SQLAlchemyError):
        return "The database refused the import, so nothing was saved. Try again; if it fails again, tell your administrator."
    return "The import failed and nothing was saved: " + (str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)


def _reuse_preview(draft: Draft, writer: "_Writer") -> Pass | None:
    """The preview's checked rows handed to the writer, when the database is as the preview saw it; else None
    (and the caller reads and checks the file again)."""
    p = draft.preview or {}
    path = _rows_path(draft)
    if draft.kind != "ledger" or not p.get("db_state") or not os.path.exists(path):
        return None
    if checked.db_state() != p["db_state"]:
        return None
    found = Pass(counts=dict(p["counts"]), file_pence=p["file_pence"], import_pence=p["import_pence"],
                 totals_row_pence=p.get("totals_row_pence"), notes=list(p["notes"]), problems=list(p["problems"]),
                 error_rows=list(p["error_rows"]), summary=p.get("summary") or {})
    for item in checked.replay(path):
        if item[0] == ADD:
            writer.add_ledger_values(item[3])
        else:
            writer.take(Row(item[1], CHANGED, item[4], [], {}, item[3], item[2]))
    return found


def run_commit(batch_id: int, draft: Draft, *, leave_out: bool, user_id: int | None = None) -> ImportBatch:
    """Write every row of the draft in ONE transaction; on any failure nothing lands and the batch is failed."""
    batch = db.session.get(ImportBatch, batch_id)
    writer = _Writer(batch, draft)
    _progress[batch_id] = 0
    try:
        found = _reuse_preview(draft, writer) or analyse(draft, writer.take)
        if found.counts[ERROR] and not leave_out:
            raise ImportRefused(f"{found.counts[ERROR]} rows have problems now (the data changed since the "
                                "preview); preview the file again.")
        writer.finish()
        batch.counts = found.counts | {"left_out": found.counts[ERROR] if leave_out else 0,
                                       "file_pence": found.file_pence, "import_pence": found.import_pence,
                                       "totals_row_pence": found.totals_row_pence,
                                       "years": (found.summary or {}).get("years", {})}
        batch.problems = found.problems
        batch.excluded_rows = found.error_rows if leave_out else []
        remember_mapping(draft, writer.undo)
        batch.undo = writer.undo
        batch.status = "committed"
        batch.committed_at = utcnow()
        batch.progress = batch.total_rows = found.counts["read"]
        batch.error = ""
        audit.record(REALM, "create", batch, _summary_line(batch), None,
                     {"kind": batch.kind, "file": batch.filename, "sha256": batch.sha256, **batch.counts},
                     user_id=user_id)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        message = _failure_sentence(exc)
        failed = db.session.get(ImportBatch, batch_id)
        failed.status = "failed"
        failed.error = message
        failed.progress = 0
        failed.draft_token = None  # the draft may be committed again
        db.session.commit()
        if not isinstance(exc, ImportRefused):
            current_app.logger.exception("Import %s failed", batch_id)
        raise ImportRefused(message, 422, batch=failed) from None
    finally:
        _progress.pop(batch_id, None)
        _forget_progress(batch_id)
    discard_draft(draft, keep_file=True)
    return batch


def commit(draft: Draft, *, leave_out: bool = False, user_id: int | None = None) -> ImportBatch:
    """Create the batch and write its rows now (the CLI, and small files on the web)."""
    batch = create_batch(draft, leave_out=leave_out, user_id=user_id)
    return run_commit(batch.id, draft, leave_out=leave_out, user_id=user_id)


def commit_in_background(draft: Draft, *, leave_out: bool = False, user_id: int | None = None) -> ImportBatch:
    """Create the batch and write its rows in a thread with its own app context and session; the page polls."""
    batch = create_batch(draft, leave_out=leave_out, user_id=user_id)
    app = current_app._get_current_object()
    batch_id = batch.id

    def work():
        with app.app_context():
            try:
                run_commit(batch_id, draft, leave_out=leave_out, user_id=user_id)
            except ImportRefused:
                pass
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"import-{batch_id}", daemon=True)
    thread.start()
    batch.thread = thread  # tests join it
    return batch


PROGRESS_EVERY = 2_000  # rows between progress reports


def _progress_file(batch_id: int) -> str:
    return os.path.join(imports_dir(), f"progress-{batch_id}.txt")


def report_progress(batch_id: int, done: int) -> None:
    """Record how far a commit has gone where every worker can see it: on the batch row, in its own short
    transaction (PostgreSQL); on SQLite, whose committing transaction holds the only write lock, in a small file
    beside the imports that every process on the (one) host reads."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(progress=done))
        return
    path = _progress_file(batch_id)
    with open(path + ".part", "w", encoding="ascii") as fh:
        fh.write(str(done))
    os.replace(path + ".part", path)


def progress_of(batch: ImportBatch) -> tuple[int, int]:
    """(rows written, rows in all) of a batch, from whichever worker is committing it."""
    done = batch.progress or 0
    if batch.status == "committing":
        try:
            with open(_progress_file(batch.id), encoding="ascii") as fh:
                done = max(done, int(fh.read().strip() or 0))
        except (OSError, ValueError):
            pass
    return done, batch.total_rows or 0


def _forget_progress(batch_id: int) -> None:
    try:
        os.remove(_progress_file(batch_id))
    except OSError:
        pass


def _dump(obj, fields) -> dict:
    return {f: audit._plain(getattr(obj, f)) for f in fields}


class _Writer:
    """Takes the rows of the pass and writes them: bulk INSERTs in chunks for ledgers, ORM for the rest."""

    def __init__(self, batch: ImportBatch, draft: Draft) -> None:
        self.batch = batch
        self.draft = draft
        self.pending: list[list] = []
        self.done = 0
        self.undo: dict = {"updated": [], "created": {}, "leave_out": batch.undo.get("leave_out", False)}
        self.user_id = batch.created_by_id
        self._providers: dict[str, Provider] | None = None

    def take(self, row: Row) -> None:
        if row.action == ADD and self.draft.kind == "ledger":
            self.add_ledger_values(checked.ledger_values(row.data))
            return
        self.done += 1
        if self.done % PROGRESS_EVERY == 0:
            report_progress(self.batch.id, self.done)
        if row.action == ADD:
            getattr(self, f"_add_{self.draft.kind}")(row)
        elif row.action == CHANGED:
            getattr(self, f"_change_{self.draft.kind}")(row)

    def finish(self) -> None:
        self._flush_ledger()
        db.session.flush()

    def _created(self, model: str, obj_id: int) -> None:
        self.undo["created"].setdefault(model, []).append(obj_id)

    # ledger
    def add_ledger_values(self, values: list) -> None:
        """One added line, its values in ``checked.LEDGER_COLUMNS`` order (the preview's kept rows come here)."""
        self.done += 1
        if self.done % PROGRESS_EVERY == 0:
            report_progress(self.batch.id, self.done)
        values.append(self.batch.id)
        values.append(None)  # created_at: now
        self.pending.append(values)
        if len(self.pending) >= CHUNK:
            self._flush_ledger()

    def _flush_ledger(self) -> None:
        if self.pending:
            insert_ledger_chunk(self.pending)
            self.pending = []

    def _change_ledger(self, row: Row) -> None:
        line = db.session.get(LedgerTransaction, row.existing_id)
        before = _dump(line, row.data)
        self.undo["updated"].append({"model": "LedgerTransaction", "id": line.id, "before": before})
        for k, v in row.data.items():
            setattr(line, k, v)
        old, new = audit.diff(before, _dump(line, row.data))
        if old or new:
            audit.record(REALM, "change", line, f"Changed ledger line {line.reference} (import)", old, new,
                         user_id=self.user_id)

    # commissions
    def _provider(self, name: str, data: dict) -> Provider:
        if self._providers is None:
            self._providers = {p.name.lower(): p for p in db.session.scalars(select(Provider))}
        provider = self._providers.get(name.lower())
        if provider is None:
            provider = Provider(name=name, vcse=bool(data.get("vcse", False)), sme=bool(data.get("sme", False)))
            db.session.add(provider)
            db.session.flush()
            self._providers[name.lower()] = provider
            self._created("Provider", provider.id)
            audit.record(REALM, "create", provider, f"Added provider {name} (import)", None, {"name": name},
                         user_id=self.user_id)
            return provider
        flags = {f: data[f] for f in ("vcse", "sme") if f in data and getattr(provider, f) != data[f]}
        if flags:
            self.undo["updated"].append({"model": "Provider", "id": provider.id, "before": _dump(provider, flags)})
            for f, v in flags.items():
                setattr(provider, f, v)
        return provider

    def _commission_values(self, row: Row) -> dict:
        data = {k: v for k, v in row.data.items() if k not in ("provider", "vcse", "sme")}
        data["provider_id"] = self._provider(row.data["provider"], row.data).id
        return data

    def _add_commissions(self, row: Row) -> None:
        data = self._commission_values(row)
        line_id = data.pop("budget_line_id", None)
        data = {k: v for k, v in data.items() if v is not None or k == "review_date"}
        commission = Commission(**data)
        db.session.add(commission)
        db.session.flush()
        self._created("Commission", commission.id)
        audit.record(REALM, "create", commission, f"Added commission {commission.reference} (import)", None,
                     _dump(commission, [k for k in data if k != "reference"] + ["reference"]), user_id=self.user_id)
        line = db.session.get(BudgetLine, line_id) if line_id else None
        set_shares(commission, default_shares(commission.value_pence, commission.start_date, commission.end_date, line))

    def _change_commissions(self, row: Row) -> None:
        data = self._commission_values(row)
        has_line = "budget_line_id" in data
        line_id = data.pop("budget_line_id", None)
        data = {k: v for k, v in data.items() if v is not None or k == "review_date"}
        commission = db.session.get(Commission, row.existing_id)
        before = _dump(commission, data)
        shares_before = [_dump(sh, SHARE_FIELDS) for sh in commission.funding_shares]
        for k, v in data.items():
            setattr(commission, k, v)
        after = _dump(commission, data)
        old, new = audit.diff(before, after)
        moved_line = has_line and line_id not in {sh.budget_line_id for sh in commission.funding_shares}
        if old or new or moved_line:
            self.undo["updated"].append({"model": "Commission", "id": commission.id, "before": before})
            audit.record(REALM, "change", commission, f"Changed commission {commission.reference} (import)",
                         old, new, user_id=self.user_id)
        if moved_line or any(k in new for k in ("value_pence", "start_date", "end_date")):
            # The register states the contract afresh: its shares follow the default split on the named line.
            line = db.session.get(BudgetLine, line_id) if line_id else None
            set_shares(commission, default_shares(commission.value_pence, commission.start_date,
                                                  commission.end_date, line))
            self.undo["updated"].append({"model": "FundingShares", "id": commission.id, "before": shares_before})

    # budget
    def _add_budget(self, row: Row) -> None:
        line = BudgetLine(**row.data, original_amount_pence=row.data["amount_pence"])
        db.session.add(line)
        db.session.flush()
        self._created("BudgetLine", line.id)
        audit.record(REALM, "create", line, "Added budget line (import)", None, _dump(line, row.data),
                     user_id=self.user_id)

    def _change_budget(self, row: Row) -> None:
        line = db.session.get(BudgetLine, row.existing_id)
        before = _dump(line, row.data)
        self.undo["updated"].append({"model": "BudgetLine", "id": line.id, "before": before})
        for k, v in row.data.items():
            setattr(line, k, v)
        old, new = audit.diff(before, _dump(line, row.data))
        audit.record(REALM, "change", line, "Changed budget line (import)", old, new, user_id=self.user_id)


def insert_ledger_chunk(rows: list[list]) -> None:
    """One bulk INSERT of ledger lines (a module function so tests can make it fail part-way)."""
    checked.insert_ledger_rows(rows)


def _summary_line(batch: ImportBatch) -> str:
    c = batch.counts
    return (f"Imported {batch.filename} ({KIND_LABELS.get(batch.kind, batch.kind)}): {c.get(ADD, 0)} added, "
            f"{c.get(CHANGED, 0)} changed, {c.get(UNCHANGED, 0)} already present, {c.get('left_out', 0)} left out")


# --- withdraw -----------------------------------------------------------------------------------------------

_MODELS = {"LedgerTransaction": LedgerTransaction, "Commission": Commission, "Provider": Provider,
           "BudgetLine": BudgetLine, "ColumnMapping": ColumnMapping}


def _restore_value(model, name: str, value):
    column = model.__table__.c[name]
    if value is not None and isinstance(value, str):
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            return value
        if python_type is date:
            return date.fromisoformat(value)
        if python_type is datetime:
            return datetime.fromisoformat(value)
    return value


def withdraw(batch: ImportBatch, user_id: int | None = None) -> list[str]:
    """Take a committed batch back out: its rows go and what it changed is restored (caller commits).

    Returns notes about records kept because something else now uses them.
    """
    refusal = withdraw_refusal(batch)
    if refusal is not None:
        raise refusal
    # Claim it (a compare-and-set on its status): of two withdrawals at once, only one puts values back.
    claimed = db.session.execute(update(ImportBatch).where(ImportBatch.id == batch.id, ImportBatch.status == "committed")
                                 .values(status="withdrawn").execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise ImportRefused("Someone else has just withdrawn this import; reload the page to see it.", 409)
    notes: list[str] = []
    undo = batch.undo or {}
    if batch.kind == "ledger":
        removed = db.session.execute(
            LedgerTransaction.__table__.delete().where(LedgerTransaction.import_batch_id == batch.id)).rowcount
        notes.append(f"{removed} ledger line{'s' if removed != 1 else ''} removed")
    for item in reversed(undo.get("updated", [])):
        if item["model"] == "FundingShares":  # a contract's shares as they were before the import
            commission = db.session.get(Commission, item["id"])
            if commission is not None:
                set_shares(commission, [ShareInput(d["year_label"], d["amount_pence"], d.get("budget_line_id"),
                                                   d.get("funding_stream_id")) for d in item["before"]])
            continue
        model = _MODELS[item["model"]]
        obj = db.session.get(model, item["id"])
        if obj is None:
            continue
        for name, value in item["before"].items():
            setattr(obj, name, _restore_value(model, name, value))
    db.session.flush()
    for mapping_id in undo.get("created", {}).get("ColumnMapping", []):
        saved = db.session.get(ColumnMapping, mapping_id)
        if saved is not None and saved.mapping == (batch.mapping or {}).get("columns"):
            db.session.delete(saved)  # the mapping this import taught, unless a later import changed it since
    for model_name in ("Commission", "BudgetLine", "Provider"):
        model = _MODELS[model_name]
        for obj_id in undo.get("created", {}).get(model_name, []):
            obj = db.session.get(model, obj_id)
            if obj is None:
                continue
            label = getattr(obj, "reference", None) or getattr(obj, "name", None) or obj_id
            try:
                with db.session.begin_nested():
                    db.session.delete(obj)
                    db.session.flush()
            except Exception:  # something else refers to it now (a ledger line, a variation, a milestone...)
                notes.append(f"{model_name.replace('BudgetLine', 'budget line').lower()} {label} kept because "
                             "other records now refer to it")
    batch.status = "withdrawn"
    batch.withdrawn_at = utcnow()
    batch.withdrawn_by_id = user_id
    audit.record(REALM, "negative", batch, f"Withdrew import {batch.id} ({batch.filename})",
                 {"status": "committed"}, {"status": "withdrawn", "notes": notes}, user_id=user_id)
    return notes


def withdraw_refusal(batch: ImportBatch) -> ImportRefused | None:
    """Why ``batch`` cannot be withdrawn (None when it can): the rule the confirmation page and withdraw share."""
    if batch.status != "committed":
        return ImportRefused(f"Only a committed import can be withdrawn; this one is {batch.status}.", 409)
    closed = _closed_years_touched(batch)
    if closed:
        return ImportRefused(f"This import changed funding year {_and(sorted(closed))}, which is closed, so it "
                             "cannot be withdrawn. An administrator can reopen the year if a correction is needed.", 409)
    return None


def withdraw_effects(batch: ImportBatch) -> list[str]:
    """What withdrawing ``batch`` will change, in sentences for the confirmation page (nothing is changed)."""
    from tracker.money import format_pence

    out: list[str] = []
    undo = batch.undo or {}
    if batch.kind == "ledger":
        count, net = db.session.execute(
            select(func.count(LedgerTransaction.id), func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
            .where(LedgerTransaction.import_batch_id == batch.id)).one()
        out.append(f"{count} ledger line{'s' if count != 1 else ''} ({format_pence(int(net))} net) will be removed, "
                   "so their spend leaves the commissions and budget lines they were matched to.")
    names = {"Commission": ("commission", "commissions"), "BudgetLine": ("budget line", "budget lines"),
             "Provider": ("provider", "providers")}
    updated: dict[str, int] = {}
    for item in undo.get("updated", []):
        updated[item["model"]] = updated.get(item["model"], 0) + 1
    for model, n in updated.items():
        one, many = names.get(model, (model.lower(), model.lower() + "s"))
        out.append(f"{n} {one if n == 1 else many} will go back to the values they had before this import.")
    for model, ids in (undo.get("created") or {}).items():
        if ids:
            one, many = names.get(model, (model.lower(), model.lower() + "s"))
            out.append(f"{len(ids)} {one if len(ids) == 1 else many} this import added will be deleted, unless other "
                       "records now refer to them (those are kept and listed afterwards).")
    if not out:
        out.append("Nothing this import recorded is still in the tracker; it will only be marked withdrawn.")
    out.append("The import stays in the history, marked withdrawn, and the withdrawal is in the audit trail.")
    return out


def _closed_years_touched(batch: ImportBatch) -> set[str]:
    if batch.kind == "ledger":
        q = (select(FundingYear.label).join(LedgerTransaction, LedgerTransaction.funding_year_id == FundingYear.id)
             .where(LedgerTransaction.import_batch_id == batch.id, FundingYear.status == "closed").distinct())
        return set(db.session.scalars(q))
    if batch.funding_year_id:
        year = db.session.get(FundingYear, batch.funding_year_id)
        if year is not None and year.is_closed:
            return {year.label}
    if batch.kind == "commissions":
        ids = [i["id"] for i in (batch.undo or {}).get("updated", []) if i["model"] == "Commission"]
        ids += (batch.undo or {}).get("created", {}).get("Commission", [])
        if ids:
            q = (select(FundingYear.label).join(Commission, Commission.funding_year_id == FundingYear.id)
                 .where(Commission.id.in_(ids), FundingYear.status == "closed").distinct())
            return set(db.session.scalars(q))
    return set()


# --- reading back -------------------------------------------------------------------------------------------

def get_batch_or_404(batch_id: int) -> ImportBatch:
    from tracker.errors import abort_with, get_or_404

    batch = get_or_404(ImportBatch, batch_id, "There is no import with that number.")
    if batch.kind not in KINDS:  # monitoring returns are batches too, but have their own pages
        abort_with(404, "There is no import with that number.")
    return batch


def batches() -> list[ImportBatch]:
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(
        select(ImportBatch).where(ImportBatch.kind.in_(KINDS))
        .options(joinedload(ImportBatch.created_by), joinedload(ImportBatch.withdrawn_by))
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())))


def stored_file(batch: ImportBatch) -> str:
    try:
        return str(files.locate(batch.stored_path))
    except files.OutsideDataDir:
        raise FileNotFoundError(batch.stored_path) from None


def problems_workbook(problems: list[dict], error_rows: list[dict] | None = None) -> bytes:
    """Every problem as a spreadsheet (text cells only, so nothing in it is ever a live formula)."""
    import io

    import xlsxwriter

    out = io.BytesIO()
    wb = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    bold = wb.add_format({"bold": True})
    ws = wb.add_worksheet("Problems")
    for c, (title, width) in enumerate((("Sheet", 18), ("Row", 8), ("Column", 22), ("Column letter", 8),
                                        ("Value", 30), ("Problem", 70))):
        ws.write_string(0, c, title, bold)
        ws.set_column(c, c, width)
    for r, p in enumerate(problems, start=1):
        ws.write_string(r, 0, p.get("sheet", ""))
        if p.get("row"):
            ws.write_number(r, 1, p["row"])
        ws.write_string(r, 2, p.get("column", ""))
        ws.write_string(r, 3, p.get("letter", ""))
        ws.write_string(r, 4, p.get("value", ""))
        ws.write_string(r, 5, p.get("message", ""))
    ws.freeze_panes(1, 0)
    wb.close()
    return out.getvalue()
