"""tracker/files.py: every file the app keeps is written atomically under DATA_DIR, hashed, and found by a
path relative to DATA_DIR; nothing outside DATA_DIR can be read, written or removed through it."""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from tracker import files


def test_write_keeps_the_bytes_under_data_dir_with_a_relative_path_and_their_hash(app):
    stored = files.write("returns", "q2.xlsx", b"workbook bytes")
    assert stored.path == "returns/q2.xlsx" and stored.name == "q2.xlsx"
    assert (stored.sha256, stored.size_bytes) == (hashlib.sha256(b"workbook bytes").hexdigest(), 14)
    on_disk = Path(app.config["DATA_DIR"]) / "returns" / "q2.xlsx"
    assert on_disk.read_bytes() == b"workbook bytes"
    assert os.listdir(on_disk.parent) == ["q2.xlsx"]  # no temporary file left beside it
    assert files.read(stored.path, sha256=stored.sha256) == b"workbook bytes"


def test_a_stream_is_written_in_chunks_and_hashed_as_it_goes(app, monkeypatch):
    monkeypatch.setattr(files, "CHUNK", 4)
    stored = files.write("imports", "upload.part", io.BytesIO(b"0123456789"))
    assert (stored.size_bytes, stored.sha256) == (10, hashlib.sha256(b"0123456789").hexdigest())
    assert files.read(stored.path) == b"0123456789"


def test_a_failed_write_leaves_neither_the_file_nor_a_part(app):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            raise OSError("the upload was cut off")

    with pytest.raises(OSError, match="cut off"):
        files.write("imports", "upload.part", Broken())
    assert os.listdir(Path(app.config["DATA_DIR"]) / "imports") == []


@pytest.mark.parametrize("path", ["", "/etc/passwd", "../outside.txt", "returns/../../outside.txt", ".",
                                  "returns\\..\\..\\x"])
def test_paths_outside_data_dir_are_refused(app, path):
    with pytest.raises(files.OutsideDataDir):
        files.locate(path)
    with pytest.raises(files.OutsideDataDir):
        files.read(path)
    assert files.exists(path) is False


def test_nothing_is_written_outside_data_dir(app, tmp_path):
    with pytest.raises(files.OutsideDataDir):
        files.write("..", "escaped.txt", b"x")
    with pytest.raises(files.OutsideDataDir):
        files.write("imports", "../../escaped.txt", b"x")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_a_symlink_out_of_data_dir_is_refused(app, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    Path(app.config["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    (Path(app.config["DATA_DIR"]) / "link.txt").symlink_to(outside)
    with pytest.raises(files.OutsideDataDir):
        files.read("link.txt")


def test_read_checks_the_hash_and_remove_forgives_a_missing_file(app):
    stored = files.write("documents", "a.pdf", b"%PDF-1.7")
    with pytest.raises(files.FileChanged):
        files.read(stored.path, sha256="0" * 64)
    files.remove(stored.path)
    files.remove(stored.path)
    assert not files.exists(stored.path)
    with pytest.raises(FileNotFoundError):
        files.read(stored.path)


def test_rename_stays_in_the_folder(app):
    stored = files.write("imports", "upload-x.part", b"data")
    assert files.rename(stored.path, "x.csv") == "imports/x.csv"
    assert files.read("imports/x.csv") == b"data" and not files.exists(stored.path)
    with pytest.raises(files.OutsideDataDir):
        files.rename("imports/x.csv", "../../x.csv")


def test_generated_names_are_unguessable_and_keep_the_extension():
    a, b = files.generated_name("xlsx"), files.generated_name("xlsx", "2025-26-q2-v1")
    assert a.endswith(".xlsx") and len(a) == 32 + 5
    assert b.startswith("2025-26-q2-v1-") and b.endswith(".xlsx") and a != files.generated_name("xlsx")
