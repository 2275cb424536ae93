"""Macros are found in documents by content type and relationship as well as by part name: vbaProject
anywhere, macro-enabled content types in .xlsx and .docx, Basic/ in ODF (issue 12, finding 12)."""
from __future__ import annotations

import pytest

from tests.monitoring.test_documents import DOCX, ODT, XLSX, office
from tracker.monitoring import documents as docs

MACRO_XLSX_TYPES = (b'<Types><Override PartName="/xl/workbook.xml" '
                    b'ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>')
MACRO_DOCX_TYPES = (b'<Types><Override PartName="/word/document.xml" '
                    b'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>')
VBA_REL = (b'<Relationships><Relationship Id="rId9" Target="innocent.bin" '
           b'Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject"/></Relationships>')


@pytest.mark.parametrize("data, name", [
    (office({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>", "word/vbaProject.bin": b"x"}), "a.docx"),
    (office({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>", "xl/media/VBAPROJECT.BIN": b"x"}), "a.xlsx"),
    (office({"[Content_Types].xml": MACRO_XLSX_TYPES, "xl/workbook.xml": b"<w/>"}), "a.xlsx"),
    (office({"[Content_Types].xml": MACRO_DOCX_TYPES, "word/document.xml": b"<w/>"}), "a.docx"),
    (office({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>", "xl/_rels/workbook.xml.rels": VBA_REL,
             "xl/innocent.bin": b"x"}), "a.xlsx"),
    (office({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>",
             "Basic/Standard/Module1.xml": b"<script/>"}), "a.odt"),
    (office({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>",
             "META-INF/manifest.xml": b'<manifest><file-entry full-path="Basic/" media-type=""/></manifest>'}), "a.odt"),
], ids=["docx-vbaproject", "vbaproject-anywhere", "xlsx-macro-content-type", "docx-macro-content-type",
        "vbaproject-relationship", "odf-basic-library", "odf-basic-in-manifest"])
def test_macros_are_refused(data, name):
    with pytest.raises(docs.DocumentRefused, match="macros"):
        docs.sniff(data, name)


@pytest.mark.parametrize("data, name", [(DOCX, "a.docx"), (XLSX, "a.xlsx"), (ODT, "a.odt")])
def test_documents_without_macros_are_kept(data, name):
    assert docs.sniff(data, name)[1] == name.rsplit(".", 1)[1]


def test_a_real_xlsx_passes():
    import io

    import openpyxl

    buffer = io.BytesIO()
    wb = openpyxl.Workbook()
    wb.active["A1"] = "hello"
    wb.save(buffer)
    assert docs.sniff(buffer.getvalue(), "real.xlsx")[1] == "xlsx"
