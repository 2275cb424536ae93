"""What an uploaded Office package (.xlsx, .docx, .pptx and their macro-enabled kin, or an ODF file) may not carry:
anything that runs or fetches when it is opened. The one check for documents (``tracker.monitoring.documents``)
and imports (``tracker.spreadsheets.reader``), by content, never by the file's name.

Refused: macros (a VBA project by part name, content type or relationship; an ODF Basic or script library);
Excel 4.0 macro sheets (``xl/macrosheets/``, which run ``Auto_Open`` without any VBA); embedded objects
(``*/embeddings/``: OLE packages that run a program on a double click); DDE (a ``DDE``/``DDEAUTO`` field in a Word
part, a ``ddeLink`` in a workbook) and links to other files (``xl/externalLinks/``, and any relationship with
``TargetMode="External"`` other than a web or mail hyperlink: a linked template, frame, picture or object).
"""
from __future__ import annotations

import re
import zipfile

# Small parts (content types, relationships, manifests) are read whole; anything bigger is not a plain listing.
SMALL_PART = 2 * 1024 * 1024
MAX_READ_PARTS = 200
# Word parts read to look for fields, all together; beyond this the file is refused as too large to check (a
# zip bomb of many document parts would otherwise be inflated in full).
MAX_TEXT_BYTES = 64 * 1024 * 1024

_MACRO_MARKS = (b"vbaproject", b"macroenabled", b"vbadata", b"ms-office.activex", b"ms-excel.macrosheet",
                b"ms-excel.intlmacrosheet")
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b[^>]*>", re.I)
_ATTRIBUTE = re.compile(rb'([\w:]+)\s*=\s*("[^"]*"|\'[^\']*\')')
_SAFE_EXTERNAL = re.compile(rb"^(https?://|mailto:)", re.I)
# Word keeps a field's code in <w:instrText> runs (one code may be split over several) or a fldSimple's w:instr.
_INSTR_TEXT = re.compile(rb"<w:instrText\b[^>]*>([^<]*)</w:instrText>", re.I)
_INSTR_ATTR = re.compile(rb"""\bw:instr\s*=\s*("[^"]*"|'[^']*')""", re.I)
_FIELD_BEGIN = re.compile(rb"""<w:fldChar\b[^>]*w:fldCharType\s*=\s*["']begin["']""", re.I)
_DDE_CODE = re.compile(r"^\s*DDE(AUTO)?\b", re.I)

MACROS = "it contains macros, which can run code on the computer that opens it"
MACRO_SHEET = "it contains an Excel 4.0 macro sheet, which can run code when the workbook is opened"
EMBEDDED = "it contains an embedded object (OLE), which can run a program when it is opened"
DDE = "it contains a DDE field, which can run a program or fetch data when it is opened"
EXTERNAL = "it links to other files (external links), which are fetched when it is opened"
TOO_BIG = "it is too large to check for macros and links"


def active_content(zf: zipfile.ZipFile) -> str | None:
    """Why the package must be refused ("it contains ..."), or None for a plain document."""
    read = text_bytes = 0
    for info in zf.infolist():
        name = info.filename.lower()
        reason = _by_name(name)
        if reason:
            return reason
        if name in ("[content_types].xml", "meta-inf/manifest.xml") or name.endswith(".rels"):
            if info.file_size > SMALL_PART or read >= MAX_READ_PARTS:
                return TOO_BIG
            read += 1
            reason = _by_listing(name, zf.read(info))
            if reason:
                return reason
        elif name.startswith("word/") and name.endswith(".xml"):
            text_bytes += info.file_size  # zipfile never inflates a part beyond its stated size
            if text_bytes > MAX_TEXT_BYTES:
                return TOO_BIG
            if _has_dde_field(zf.read(info)):
                return DDE
    return None


def _by_name(name: str) -> str | None:
    if "vbaproject" in name or name.startswith(("basic/", "scripts/")) or "/basic/" in name:
        return MACROS
    if "/macrosheets/" in f"/{name}":
        return MACRO_SHEET
    if "/embeddings/" in f"/{name}" or name.endswith((".bin",)) and "oleobject" in name:
        return EMBEDDED
    if "/externallinks/" in f"/{name}":
        return EXTERNAL
    return None


def _by_listing(name: str, content: bytes) -> str | None:
    lowered = content.lower()
    if any(mark in lowered for mark in _MACRO_MARKS):
        return MACRO_SHEET if b"macrosheet" in lowered and b"vba" not in lowered else MACROS
    if name == "meta-inf/manifest.xml":
        if b'full-path="basic/' in lowered or b'full-path="scripts/' in lowered:
            return MACROS
        return None
    # A workbook's DDE link is an external-link part: refused by its type wherever the part is moved to.
    if b"oleobject" in lowered or b"relationships/package" in lowered:
        return EMBEDDED
    if b"externallink" in lowered:
        return EXTERNAL
    if name.endswith(".rels"):
        for relationship in _RELATIONSHIP.findall(content):
            attributes = {k.lower().split(b":")[-1]: v[1:-1] for k, v in _ATTRIBUTE.findall(relationship)}
            if attributes.get(b"targetmode", b"").lower() != b"external":
                continue
            is_link = attributes.get(b"type", b"").lower().endswith(b"/hyperlink")
            if not (is_link and _SAFE_EXTERNAL.match(attributes.get(b"target", b"").strip())):
                return EXTERNAL
    return None


def _has_dde_field(content: bytes) -> bool:
    """A DDE or DDEAUTO field code in a Word part, however its code is split into runs."""
    if b"instr" not in content.lower():
        return False
    for quoted in _INSTR_ATTR.findall(content):
        if _DDE_CODE.match(_text(quoted[1:-1])):
            return True
    # Join the instruction runs of each field (a field starts at a 'begin' fldChar) and read its code.
    for field in _FIELD_BEGIN.split(content)[1:] or [content]:
        code = "".join(_text(piece) for piece in _INSTR_TEXT.findall(field))
        if _DDE_CODE.match(code.replace('"', " ")):
            return True
    return False


def _text(raw: bytes) -> str:
    import html

    return html.unescape(raw.decode("utf-8", "replace"))
