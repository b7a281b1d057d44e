"""Bringing folders, zips and LMS downloads into nbgrader's layout."""
import shutil
import zipfile

import pytest

from autograder import collect, course

ASSIGNMENT = course.assignment_ids()[0]
RELEASE = course.ASSIGNMENTS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def _layout(root, students):
    for s in students:
        (root / s / ASSIGNMENT).mkdir(parents=True)
        shutil.copyfile(RELEASE, root / s / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")


def test_folder_in_nbgrader_layout(tmp_path):
    """Is a <student>/<assignment>/<notebook> folder staged as it is?"""
    _layout(tmp_path / "in", ["alice", "bob"])
    found, problems = collect.collect(tmp_path / "in", tmp_path / "staging")
    assert sorted(found) == [("alice", ASSIGNMENT), ("bob", ASSIGNMENT)] and problems == []
    assert (tmp_path / "staging" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()


def test_zip_with_an_enclosing_folder(tmp_path):
    """Is a zip of the layout (inside one top folder) understood?"""
    _layout(tmp_path / "in" / "submitted", ["carol"])
    archive = shutil.make_archive(str(tmp_path / "subs"), "zip", tmp_path / "in")
    found, _ = collect.collect(archive, tmp_path / "staging")
    assert list(found) == [("carol", ASSIGNMENT)]


def test_lms_download_with_nested_archives(tmp_path):
    """Does an LMS zip (nbgrader zip_collect file names, one nested zip) yield one submission per student?"""
    lms = tmp_path / "lms.zip"
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.write(RELEASE, f"{ASSIGNMENT}_dave_attempt_2026-11-20-10-00-00_{ASSIGNMENT}.ipynb")
    with zipfile.ZipFile(lms, "w") as zf:
        zf.write(RELEASE, f"{ASSIGNMENT}_erin_attempt_2026-11-21-09-30-00_{ASSIGNMENT}.ipynb")
        zf.write(inner, "dave.zip")
        zf.writestr("readme.txt", "not a submission")
    found, problems = collect.collect(lms, tmp_path / "staging")
    assert sorted(found) == [("dave", ASSIGNMENT), ("erin", ASSIGNMENT)]
    assert [p.kind for _, _, p in problems] == ["unmatched-file"]


def test_unknown_assignment_and_unsafe_zip_are_reported(tmp_path):
    """Is a folder for a non-existent assignment reported, and a zip escaping its folder refused?"""
    _layout(tmp_path / "in", ["frank"])
    (tmp_path / "in" / "frank" / "a9_unknown").mkdir()
    shutil.copyfile(RELEASE, tmp_path / "in" / "frank" / "a9_unknown" / "x.ipynb")
    found, problems = collect.collect(tmp_path / "in", tmp_path / "staging")
    assert ("frank", ASSIGNMENT) in found
    assert [(s, a, p.kind) for s, a, p in problems] == [("frank", "a9_unknown", "unknown-assignment")]
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.ipynb", "{}")
    with pytest.raises(ValueError, match="outside the archive"):
        collect.collect(evil, tmp_path / "staging2")
