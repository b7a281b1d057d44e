"""The checks that run before a submission's code does: notebooks, locked cells, suspicious code."""
import nbformat
import pytest

from autograder import course
from autograder.intake import precheck
from autograder.course.samples import filled
from autograder.course import Course

COURSE = Course.here()

ASSIGNMENT = COURSE.assignment_ids[0]


@pytest.fixture
def release():
    return nbformat.read(str(COURSE.assignments / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)


def _kinds(problems):
    return sorted(p.kind for p in problems)


def _match(paths):
    """match_notebooks as the worker calls it: the assignment's source notebooks and each file parsed once."""
    sources = {nb_id: nbformat.read(str(path), as_version=4) for nb_id, path in COURSE.source_notebooks(ASSIGNMENT).items()}
    return precheck.match_notebooks(ASSIGNMENT, sources, {p.name: precheck.parse_notebook(p.read_bytes()) for p in paths})


def test_malformed_json_is_reported_not_raised(tmp_path):
    """Is a truncated notebook reported as malformed and the expected notebook as missing?"""
    bad = tmp_path / f"{ASSIGNMENT}.ipynb"
    bad.write_text('{"cells": [')
    found, problems = _match([bad])
    assert found == {}
    assert _kinds(problems) == ["malformed-notebook"]
    assert "not valid JSON" in problems[0].detail


def test_renamed_notebook_is_matched_by_its_cells(tmp_path, release):
    """Is 'my homework (1).ipynb' graded as the assignment notebook, and reported as renamed?"""
    path = tmp_path / "my homework (1).ipynb"
    nbformat.write(release, str(path))
    found, problems = _match([path])
    assert list(found) == [ASSIGNMENT] and found[ASSIGNMENT].cells[0].source == release.cells[0].source
    assert _kinds(problems) == ["renamed-notebook"]


def test_missing_notebook_is_reported(tmp_path):
    """With no notebook at all, is the expected one reported missing (it will score 0)?"""
    found, problems = _match([])
    assert found == {} and _kinds(problems) == ["missing-notebook"]


def test_honest_solution_raises_no_flags():
    """Does the reference solution, handed in as a student would, pass the code scan silently?"""
    for assignment in COURSE.assignment_ids:
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
    ("exec(bytes.fromhex('7072696e74283129'))", "uses exec (runs code from a string)"),
    ("f = eval('lambda x: x')", "uses eval (runs code from a string)"),
    ("code = compile('1', 'x', 'eval')", "uses compile (compiles code from a string)"),
    ("get_ipython().ast_node_interactivity = 'all'", "uses get_ipython (reaches into the IPython shell"),
    ("!cat /etc/passwd", "runs a shell command"),
    ("%run -i other.py", "runs the magic %run"),
    ("%%bash\nls /", "runs the magic %bash"),
])
def test_suspicious_code_is_flagged(code, expected, release):
    """Is each way of reaching the reference or patching the test environment flagged with a clear reason?"""
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = code
            break
    details = [p.detail for p in precheck.scan_student_code(release, ASSIGNMENT)]
    assert any(expected in d for d in details), details


def test_a_solution_cell_marked_locked_is_still_scanned(release):
    """Does a solution cell whose metadata the student switched to locked still get scanned (the release decides)?"""
    submission = nbformat.reads(nbformat.writes(release), as_version=4)
    cell = next(c for c in submission.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source = "import rnncore"
    cell.metadata.nbgrader["locked"], cell.metadata.nbgrader["solution"] = True, False
    assert precheck.scan_student_code(submission, ASSIGNMENT) == []          # trusting its own metadata: missed
    details = [p.detail for p in precheck.scan_student_code(submission, ASSIGNMENT, release)]
    assert any("imports the rnncore reference" in d for d in details), details


def test_harmless_magics_are_not_flagged(release):
    """Are %matplotlib and %time left alone (they only display or time)?"""
    submission = nbformat.reads(nbformat.writes(release), as_version=4)
    next(c for c in submission.cells if c.metadata.get("nbgrader", {}).get("solution")).source = \
        "%matplotlib inline\n%time x = 1"
    assert precheck.scan_student_code(submission, ASSIGNMENT, release) == []


def test_oversized_notebooks_are_refused_before_parsing(tmp_path, monkeypatch):
    """Is a notebook over the byte or cell limit refused with a reason, without nbformat reading it?"""
    monkeypatch.setattr(precheck, "MAX_NOTEBOOK_BYTES", 1000)
    big = tmp_path / "big.ipynb"
    big.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x" * 2000)])))
    nb, reason = precheck.read_notebook(big)
    assert nb is None and "too large" in reason
    monkeypatch.setattr(precheck, "MAX_NOTEBOOK_BYTES", 10 ** 9)
    many = tmp_path / "many.ipynb"
    many.write_text(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("1") for _ in range(precheck.MAX_CELLS + 1)])))
    nb, reason = precheck.read_notebook(many)
    assert nb is None and "too many cells" in reason
