"""The checks that run before a submission's code does: notebooks, locked cells, suspicious code."""
import nbformat
import pytest

from autograder import course, precheck
from autograder.sample_submissions import filled

ASSIGNMENT = course.assignment_ids()[0]


@pytest.fixture
def release():
    return nbformat.read(str(course.ASSIGNMENTS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)


def _kinds(problems):
    return sorted(p.kind for p in problems)


def test_malformed_json_is_reported_not_raised(tmp_path):
    """Is a truncated notebook reported as malformed and the expected notebook as missing?"""
    bad = tmp_path / f"{ASSIGNMENT}.ipynb"
    bad.write_text('{"cells": [')
    found, problems = precheck.match_notebooks(ASSIGNMENT, [bad])
    assert found == {}
    assert _kinds(problems) == ["malformed-notebook"]
    assert "not valid JSON" in problems[0].detail


def test_renamed_notebook_is_matched_by_its_cells(tmp_path, release):
    """Is 'my homework (1).ipynb' graded as the assignment notebook, and reported as renamed?"""
    path = tmp_path / "my homework (1).ipynb"
    nbformat.write(release, str(path))
    found, problems = precheck.match_notebooks(ASSIGNMENT, [path])
    assert found == {ASSIGNMENT: path}
    assert _kinds(problems) == ["renamed-notebook"]


def test_missing_notebook_is_reported(tmp_path):
    """With no notebook at all, is the expected one reported missing (it will score 0)?"""
    found, problems = precheck.match_notebooks(ASSIGNMENT, [])
    assert found == {} and _kinds(problems) == ["missing-notebook"]


def test_deleted_and_edited_test_cells_are_detected(release):
    """Does removing one test cell and weakening another give one deleted and one edited report?"""
    tests = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade")]
    submission = nbformat.reads(nbformat.writes(release), as_version=4)
    submission.cells = [c for c in submission.cells
                        if c.metadata.get("nbgrader", {}).get("grade_id") != tests[0].metadata.nbgrader.grade_id]
    for cell in submission.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == tests[1].metadata.nbgrader.grade_id:
            cell.source = "assert True"
    problems = precheck.locked_cell_changes(submission, release, ASSIGNMENT)
    assert _kinds(problems) == ["deleted-test-cell", "edited-test-cell"]


def test_honest_solution_raises_no_flags():
    """Does the reference solution, handed in as a student would, pass the code scan silently?"""
    for assignment in course.assignment_ids():
        assert precheck.scan_student_code(filled(assignment), assignment) == []


@pytest.mark.parametrize("code, expected", [
    ("import rnncore\ndef f(x):\n    return rnncore.relu(x)", "imports the rnncore reference"),
    ("from rnncore.lstm import lstm_forward as f", "imports the rnncore reference"),
    ("f = getattr(__import__('rnn' + 'core'), 'relu')", "imports modules by name"),
    ("m = __import__('rnncore')", "names the rnncore reference in a string"),
    ("def f(x):\n    pass\nf.__code__ = g.__code__", "copies or swaps a code object"),
    ("import numpy as np\nnp.allclose = lambda *a, **k: True", "replaces np.allclose (monkeypatching)"),
    ("setattr(np, 'isclose', lambda *a: True)", "calls setattr on np (monkeypatching)"),
    ("import builtins\nbuiltins.isinstance = lambda *a: True", "imports builtins"),
    ("import sys\nsys.setprofile(None)", "replaces the profiler hook"),
    ("import os\nos._exit(0)", "kills the kernel"),
    ("%timeit 1 + 1\nimport gc", "imports gc"),
])
def test_suspicious_code_is_flagged(code, expected, release):
    """Is each way of reaching the reference or patching the test environment flagged with a clear reason?"""
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = code
            break
    details = [p.detail for p in precheck.scan_student_code(release, ASSIGNMENT)]
    assert any(expected in d for d in details), details
