"""The graded assignments: generated student versions, samples, and the nbgrader round trip.

Round trip, for every assignment: the reference solution handed in scores full marks; the
untouched student version scores zero without grader errors; a submission with one function
left undone loses exactly the points of the tests of that function (and of functions that call it);
a backward pass with one wrong gradient loses its test only, and the feedback names that gradient.
The round trip grades only the assignments whose tests were selected (`pytest -k a6` grades a6 alone).
"""
import ast
import filecmp
import re
import shutil

import nbformat
import pytest

from autograder import course
from autograder.course import build
from autograder.course import samples as sample_submissions
from grading_helpers import feedback_text, grades_by_submission, run_grading
from autograder.course import Course

COURSE = Course.here()

ASSIGNMENTS = COURSE.assignment_ids


def test_the_course_has_the_six_assignments():
    """Are all six assignments present, each as one source notebook named after it?"""
    assert ASSIGNMENTS == ["a1_neuron", "a2_optimizers", "a3_rnn_bptt", "a4_lstm_gru", "a5_charlm_birnn",
                           "a6_seq2seq_attention"]
    for assignment in ASSIGNMENTS:
        assert list(COURSE.source_notebooks(assignment)) == [assignment]


@pytest.mark.slow
def test_assignments_are_generated_from_the_current_solutions():
    """Is every notebook in assignments/ exactly what nbgrader generates from solutions/ now?"""
    assert build.build(COURSE, check=True) == [], "run `python -m autograder build` (make assignments)"


@pytest.mark.slow
def test_build_check_names_stale_and_orphaned_notebooks(tmp_path):
    """Does build --check name a notebook that differs and one that has no source, without writing?"""
    copy = tmp_path / "assignments"                          # a course of the same sources, its own assignments/
    shutil.copytree(COURSE.assignments, copy)
    (tmp_path / "solutions").symlink_to(COURSE.solutions)
    stale = copy / ASSIGNMENTS[0] / f"{ASSIGNMENTS[0]}.ipynb"
    stale.write_text(stale.read_text().replace("numpy", "numpy ", 1))
    (copy / "a9_old").mkdir()
    shutil.copyfile(stale, copy / "a9_old" / "a9_old.ipynb")
    reported = build.build(Course(tmp_path), check=True)
    assert sorted(p.relative_to(copy).as_posix() for p in reported) == [
        f"{ASSIGNMENTS[0]}/{ASSIGNMENTS[0]}.ipynb", "a9_old/a9_old.ipynb"]
    assert (copy / "a9_old" / "a9_old.ipynb").exists()


def test_student_versions_hide_solutions_and_hidden_tests():
    """Do the generated notebooks contain stubs instead of solutions and no hidden tests?"""
    for assignment in ASSIGNMENTS:
        text = (COURSE.assignments / assignment / f"{assignment}.ipynb").read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        assert "raise NotImplementedError()" in text
        assert "import rnncore" not in text


def test_bundled_samples_are_up_to_date(tmp_path, monkeypatch):
    """Are autograder/samples/ exactly what sample_submissions makes from the current assignments?"""
    monkeypatch.setattr(sample_submissions, "HONEST", tmp_path / "submissions")
    monkeypatch.setattr(sample_submissions, "HOSTILE", tmp_path / "hostile")
    sample_submissions.write_all()
    for ours, committed in ((tmp_path / "submissions", course.SAMPLES / "submissions"),
                            (tmp_path / "hostile", course.SAMPLES / "hostile")):
        diff = filecmp.dircmp(ours, committed)
        stale = []
        def walk(d, prefix=""):
            stale.extend(prefix + n for n in d.left_only + d.right_only + d.diff_files)
            for name, sub in d.subdirs.items():
                walk(sub, prefix + name + "/")
        walk(diff)
        assert stale == [], f"run `make samples`; stale: {stale}"


def _defined_and_called(source):
    """Names of functions (and classes) a solution cell defines, and the names it uses."""
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return defined, used


def lost_when_undone(assignment, grade_id):
    """Test cells that must score 0 when solution cell grade_id is left as the stub."""
    nb = nbformat.read(str(COURSE.solutions / assignment / f"{assignment}.ipynb"), as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    names = {gid: _defined_and_called(src) for gid, src in cells.items()}
    broken = set(names[grade_id][0])
    changed = True
    while changed:                                       # functions that call a broken one are broken too
        changed = False
        for defined, used in names.values():
            if defined and not defined <= broken and used & broken:
                broken |= defined
                changed = True
    tests = [g for g, _ in sample_submissions.graded_cells(assignment)]
    return [t for t in tests if any(t == f"test_{n}" or t.startswith(f"test_{n}_") for n in broken)]


def last_function(assignment):
    """The last graded function of an assignment (no other function calls it)."""
    nb = nbformat.read(str(COURSE.solutions / assignment / f"{assignment}.ipynb"), as_version=4)
    graded = {g for g, _ in sample_submissions.graded_cells(assignment)}
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
           if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
           and f"test_{c.metadata['nbgrader']['grade_id']}" in graded]
    return ids[-1]


# One backward pass with a wrong gradient per assignment listed: (solution cell, its body, the test that must
# fail, what the feedback must say: the wrong gradient, and that the others match).
WRONG_GRADIENTS = {
    "a1_neuron": ("dense_backward", "x, W = cache\nreturn dout @ W.T, -(x.T @ dout), dout.sum(axis=0)",   # dW's sign flipped
                  "test_dense_backward", r"dense_backward[^:\n]*: dW (differs|disagrees)[^\n]*; dx and db match"),
    # additive, not dot: the composition test of seq2seq_loss uses dot_attention_backward and would fail too
    "a6_seq2seq_attention": ("additive_attention_backward", (
        "q, h, Wq, Wk, v, hidden, alpha = cache\n"
        "N, S, H = h.shape\n"
        "dalpha = (h @ dcontext[:, :, None])[:, :, 0]\n"
        "de = alpha * (dalpha - np.sum(alpha * dalpha, axis=1, keepdims=True))\n"
        "dz = de[:, :, None] * v * (1.0 - hidden ** 2)\n"
        "dh = alpha[:, :, None] * dcontext[:, None, :] + dz @ Wk.T\n"
        "return -(dz.sum(axis=1) @ Wq.T), dh, q.T @ dz.sum(axis=1), h.reshape(N * S, H).T @ dz.reshape(N * S, -1), "
        "np.tensordot(de, hidden, axes=([0, 1], [0, 1]))"),                              # dq's sign flipped
        "test_additive_attention_backward",
        r"additive_attention_backward[^:\n]*: dq (differs|disagrees)[^\n]*; dh, dWq, dWk and dv match"),
}


def selected_assignments(session):
    """The assignments of the round-trip tests this session runs, in course order (all if it runs none)."""
    chosen = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "round_trip" in getattr(item, "fixturenames", ()) and "assignment" in params:
            chosen.add(params["assignment"])
    return [a for a in ASSIGNMENTS if a in chosen] or ASSIGNMENTS


@pytest.fixture(scope="module")
def round_trip(request, tmp_path_factory):
    """Solution, untouched, one-function-undone and wrong-gradient versions of the selected assignments, graded in one run."""
    folder = tmp_path_factory.mktemp("round_trip")
    expected = {}
    for assignment in selected_assignments(request.session):
        release = nbformat.read(str(COURSE.assignments / assignment / f"{assignment}.ipynb"), as_version=4)
        undone = last_function(assignment)
        versions = {
            "solution": (sample_submissions.filled(assignment), []),
            "untouched": (release, [g for g, _ in sample_submissions.graded_cells(assignment)]),
            "one_undone": (sample_submissions.filled(assignment, {undone: "raise NotImplementedError()"}),
                           lost_when_undone(assignment, undone)),
        }
        if assignment in WRONG_GRADIENTS:
            grade_id, body, test, _ = WRONG_GRADIENTS[assignment]
            versions["wrong_gradient"] = (sample_submissions.filled(assignment, {grade_id: body}), [test])
        for student, (nb, lost) in versions.items():
            path = folder / student / assignment / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
            expected[(student, assignment)] = {g: (0.0 if g in lost else float(p))
                                               for g, p in sample_submissions.graded_cells(assignment)}
    out = tmp_path_factory.mktemp("round_trip_out")
    summary = run_grading(folder, out, jobs=2, timeout=60)
    return out, summary, expected


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("student", ["solution", "untouched", "one_undone"])
def test_round_trip(round_trip, student, assignment):
    """Does each version score exactly what it deserves, cell by cell, with no grader error?"""
    out, summary, expected = round_trip
    row = grades_by_submission(out)[(student, assignment)]
    assert {g: row[g] for g in expected[(student, assignment)]} == expected[(student, assignment)]
    kinds = {p["kind"] for p in summary["problems"] if p["student"] == student and p["assignment"] == assignment}
    assert kinds == set(), kinds


@pytest.mark.slow
@pytest.mark.parametrize("assignment", list(WRONG_GRADIENTS))
def test_a_wrong_gradient_is_named_in_the_feedback(round_trip, assignment):
    """Does a backward pass with one wrong gradient lose only its test, with feedback naming it and what matches?"""
    out, _, expected = round_trip
    row = grades_by_submission(out)[("wrong_gradient", assignment)]
    assert {g: row[g] for g in expected[("wrong_gradient", assignment)]} == expected[("wrong_gradient", assignment)]
    text = feedback_text(out, "wrong_gradient", assignment)
    assert re.search(WRONG_GRADIENTS[assignment][3], text), text[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_one_undone_loses_something_but_not_everything(round_trip, assignment):
    """Is the undone-function check meaningful: some points lost, most kept?"""
    out, _, expected = round_trip
    row = grades_by_submission(out)[("one_undone", assignment)]
    assert 0 < row["score"] < row["max_score"], (assignment, row["score"])
