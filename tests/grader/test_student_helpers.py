"""What a student sees when running the visible tests in JupyterLab (autograder.testing as a self-check)."""
import re

import nbclient
import nbformat
import pytest

from autograder import course
from autograder.course import Course

COURSE = Course.here()

ANSI = re.compile(r"\x1b\[[0-9;]*m")
pytestmark = pytest.mark.slow


def run_tests_of(assignment, student_cells):
    """Run the setup cell, the student's versions of some cells and their visible tests in a plain kernel."""
    release = nbformat.read(str(COURSE.assignments / assignment / f"{assignment}.ipynb"), as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in release.cells}
    cells = [by_id["setup"]]
    for grade_id, source in student_cells.items():
        cells += [nbformat.v4.new_code_cell(source), by_id[f"test_{grade_id}"]]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=release.metadata)
    nbclient.NotebookClient(nb, allow_errors=True, kernel_name="python3", timeout=60).execute()
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def traceback_of(cell):
    return ANSI.sub("", "\n".join(line for o in cell.outputs if o.output_type == "error" for line in o.traceback))


def test_a_passing_visible_test_says_so_and_a_failing_one_points_at_the_students_line():
    """Does a passing test print one line, and does a failure inside the student's function skip the helpers?"""
    passing, failing = run_tests_of("a1_neuron", {
        "tanh": "def tanh(x):\n    return np.tanh(x)",
        "sigmoid": "def sigmoid(x):\n    raise ValueError('student line here')",
    })
    assert [o.text for o in passing.outputs if o.output_type == "stream"] == ["✔ тест пройден\n"]
    trace = traceback_of(failing)
    assert "student line here" in trace and "raise ValueError('student line here')" in trace
    assert "skipping hidden 1 frame" in trace and "fn(*args, **kwargs)" not in trace   # call_student is hidden
