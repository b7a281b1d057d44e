"""The notebook that is graded: the release, with only the student's own work put in."""
import re

import nbformat
import pytest

from autograder import course
from autograder.judge import feedback
from autograder.pipeline import report
from autograder.intake import restore
from autograder.course.samples import filled
from autograder.course import Course

COURSE = Course.here()

ASSIGNMENT = "a1_neuron"


@pytest.fixture
def release():
    return nbformat.read(str(COURSE.assignments / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)


def cell(nb, grade_id):
    return next(c for c in nb.cells if restore.grade_id(c) == grade_id)


def kinds(problems):
    return sorted(p.kind for p in problems)


def test_an_honest_submission_is_graded_as_handed_in(release):
    """Does a filled-in notebook come out with the student's solutions and no problem?"""
    submission = filled(ASSIGNMENT)
    graded, problems = restore.restore(submission, release, ASSIGNMENT)
    assert problems == []
    assert cell(graded, "sigmoid").source == cell(submission, "sigmoid").source
    assert [restore.grade_id(c) for c in graded.cells if restore.grade_id(c)] == \
           [restore.grade_id(c) for c in release.cells if restore.grade_id(c)]


def test_locked_and_test_cells_come_from_the_release_whatever_the_submission_says(release):
    """Are an edited test cell, a test cell turned into a solution cell and a stripped setup cell all restored?"""
    submission = filled(ASSIGNMENT)
    cell(submission, "test_sigmoid").source = "pass"
    cell(submission, "test_tanh").metadata.nbgrader.update(solution=True, locked=False, grade=False)
    del cell(submission, "setup").metadata["nbgrader"]
    graded, problems = restore.restore(submission, release, ASSIGNMENT)
    for gid in ("test_sigmoid", "test_tanh", "setup"):
        assert cell(graded, gid).source == cell(release, gid).source
        assert cell(graded, gid).metadata.nbgrader == cell(release, gid).metadata.nbgrader
    assert kinds(problems) == ["cell-above-setup", "deleted-locked-cell", "edited-test-cell", "edited-test-cell"]


def test_the_students_cells_never_become_graded_cells(release):
    """Does a student's cell claiming to be a 100-point test lose its nbgrader metadata?"""
    submission = filled(ASSIGNMENT)
    fake = nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                                     "points": 100, "grade_id": "my_test",
                                                                     "schema_version": 3}})
    submission.cells.append(fake)
    graded, _ = restore.restore(submission, release, ASSIGNMENT)
    mine = [c for c in graded.cells if c.source == "pass"]
    assert len(mine) == 1 and "nbgrader" not in mine[0].metadata


def test_cells_above_the_setup_cell_run_after_it(release):
    """Is a student's cell placed first moved right after the setup cell, and reported?"""
    submission = filled(ASSIGNMENT)
    submission.cells.insert(0, nbformat.v4.new_code_cell("import numpy as np\nnp.allclose = lambda *a, **k: True"))
    graded, problems = restore.restore(submission, release, ASSIGNMENT)
    ids = [restore.grade_id(c) for c in graded.cells]
    setup_at = ids.index("setup")
    assert graded.cells[setup_at + 1].source.startswith("import numpy as np\nnp.allclose")
    assert all(restore.grade_id(c) for c in graded.cells[:setup_at])
    assert kinds(problems) == ["cell-above-setup"]


def test_a_deleted_solution_cell_keeps_the_stub_and_duplicates_are_reported(release):
    """Is a missing solution cell graded as the stub, and a second copy of a cell reported?"""
    submission = filled(ASSIGNMENT)
    submission.cells = [c for c in submission.cells if restore.grade_id(c) != "relu"]
    copy = nbformat.v4.new_code_cell("def sigmoid(x):\n    return 0", metadata={"nbgrader": dict(cell(submission, "sigmoid").metadata.nbgrader)})
    submission.cells.append(copy)
    graded, problems = restore.restore(submission, release, ASSIGNMENT)
    assert cell(graded, "relu").source == cell(release, "relu").source
    assert kinds(problems) == ["deleted-solution-cell", "duplicate-cell"]


def test_student_markdown_is_shown_literally_in_feedback():
    """Does the feedback show a student's markdown as text, never as HTML or a link?"""
    source = "<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> ~~~"
    shown = feedback.literal(source)
    assert shown.startswith("~~~~text\n") and shown.endswith("\n~~~~") and source in shown


def test_terminal_output_has_no_control_characters():
    """Are escape sequences and carriage returns removed from what is printed to the instructor?"""
    text = report.printable("bob\x1b[2J\x1b]0;owned\x07\r\nsmith\u202e")
    assert text == "bob [2J ]0;owned   smith "


def test_feedback_pages_run_nothing_the_student_wrote():
    """Rendered to HTML, do hostile outputs and markdown leave no script, handler or javascript: link?"""
    from nbconvert import HTMLExporter
    outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<script>alert(1)</script><img src=x onerror=alert(2)>"
                                                                 "<a href='javascript:alert(3)'>x</a>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(4)"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "[x](javascript:alert(5))"}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="},
                               metadata={"image/png": {"width": '1" onerror="alert(6)'}}),
    ]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("<script>alert(7)</script> [y](javascript:alert(8)) <img src=x onerror=alert(9)>"),
        nbformat.v4.new_code_cell("x = 1", outputs=outputs)])
    feedback.SafeFeedback().preprocess(nb, {})
    page, _ = HTMLExporter().from_notebook_node(nb)
    body = page[page.index("<body"):]
    tags = re.findall(r"<[a-zA-Z][^>]*>", body)                           # real tags (escaped text is &lt;...)
    assert not [t for t in tags if t.lower().startswith("<script") and "alert" in body[body.index(t):body.index(t) + 80]]
    assert not [t for t in tags if re.search(r"\son\w+\s*=", t)]
    assert not [t for t in tags if "javascript:" in t.lower()]
    assert "alert(4)" not in body
