"""One mistake costs its own points, says where it is, and a test of several parts gives part of its points.

Students' mistakes, graded by the real pipeline (python -m autograder grade): a wrong dot_attention_forward
in a6 once cost 45 of 100 points (its backward, the decoder step and greedy decoding failed with it); a
GRU that ignores reset_after fails half of each GRU test, and gets half of their points.
"""
import re

import pytest

from autograder.course import Course
from autograder.course.samples import filled, graded_cells
from grading_helpers import feedback_text, grades_by_submission, run_grading

COURSE = Course.here()

pytestmark = pytest.mark.slow
A4, A6 = "a4_lstm_gru", "a6_seq2seq_attention"


def solution_body(assignment, cell_id):
    """The reference answer of a solution cell: the code between its solution markers."""
    import nbformat
    nb = nbformat.read(str(COURSE.solutions / assignment / f"{assignment}.ipynb"), as_version=4)
    source = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id)
    body = re.search(r"### BEGIN SOLUTION\n(.*?)\n\s*### END SOLUTION", source, re.DOTALL).group(1)
    lines = body.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines)


ATTENTION_START = """e = (h @ q[:, :, None])[:, :, 0]
if mask is not None:
    e = np.where(mask, e, -np.inf)
"""
STUDENTS = {
    # the weights are right (and so is the cache); the context is the mean of the weighted states, not their sum
    "context_mean": (A6, {"dot_attention_forward": ATTENTION_START + "alpha = softmax(e, axis=1)\n"
                          "context = (alpha[:, :, None] * h).mean(axis=1)\nreturn context, alpha, (q, h, alpha)"}),
    # the softmax over the batch axis: the weights are wrong, and so is the cache the backward is given
    "batch_axis": (A6, {"dot_attention_forward": ATTENTION_START + "alpha = softmax(e, axis=0)\n"
                        "context = (alpha[:, :, None] * h).sum(axis=1)\nreturn context, alpha, (q, h, alpha)"}),
    # the loss's softmax over the time axis
    "time_axis": (A6, {"temporal_softmax_loss": lambda: solution_body(A6, "temporal_softmax_loss")
                       .replace("scores.max(axis=2, keepdims=True)", "scores.max(axis=1, keepdims=True)")
                       .replace("np.exp(scores - top).sum(axis=2, keepdims=True)", "np.exp(scores - top).sum(axis=1, keepdims=True)")}),
    # a GRU step that always applies the reset gate before Wh_n, whatever reset_after says
    "reset_ignored": (A4, {"gru_step_forward": lambda: "reset_after = False\n" + solution_body(A4, "gru_step_forward")}),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("students")
    for student, (assignment, bodies) in STUDENTS.items():
        nb = filled(assignment, {cell: body() if callable(body) else body for cell, body in bodies.items()})
        path = folder / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True)
        import nbformat
        nbformat.write(nb, str(path))
    out = tmp_path_factory.mktemp("out")
    run_grading(folder, out, jobs=2, timeout=20)
    return out


def messages(out, student, assignment):
    """{test: what its outputs say} on a student's feedback page."""
    from autograder.course.audit import feedback_messages
    return feedback_messages((out / "feedback" / student / assignment / f"{assignment}.html").read_text())


def lost(out, student, assignment):
    """{test: points lost} of a student's assignment."""
    row = grades_by_submission(out)[(student, assignment)]
    return {g: p - row[g] for g, p in graded_cells(assignment) if row[g] != p}


def test_a_wrong_attention_costs_only_its_own_test(graded):
    """a6: a dot_attention_forward with a wrong context costs its 5 points, not its backward's, the decoder
    step's, greedy decoding's or the whole model's loss and gradients (they are judged with the student's own
    attention, or its cache)."""
    assert lost(graded, "context_mean", A6) == {"test_dot_attention_forward": 5.0}
    assert "context = sum_s weights_s h_s" in messages(graded, "context_mean", A6)["test_dot_attention_forward"]


def test_a_forward_whose_cache_is_wrong_costs_its_backward_and_the_backward_says_so(graded):
    """The softmax over the batch axis: the hint names the mistake, and the backward test, given a wrong cache,
    blames the forward instead of the backward; the decoder step, greedy decoding and the whole model's loss and
    gradients keep their points."""
    assert lost(graded, "batch_axis", A6) == {"test_dot_attention_forward": 5.0, "test_dot_attention_backward": 10.0}
    said = messages(graded, "batch_axis", A6)
    assert "the softmax ran over the batch axis (axis 0)" in said["test_dot_attention_forward"]
    assert "your dot_attention_forward is wrong on these inputs, and this test relies on it" in said["test_dot_attention_backward"]


def test_a_softmax_over_the_time_axis_gets_its_own_hint(graded):
    assert set(lost(graded, "time_axis", A6)) == {"test_temporal_softmax_loss", "test_temporal_softmax_loss_grad"}
    said = messages(graded, "time_axis", A6)
    assert "the softmax over the time axis (axis 1)" in said["test_temporal_softmax_loss"]
    assert "the softmax runs over the time axis (axis 1)" in said["test_temporal_softmax_loss_grad"]
    assert "padded positions were counted" not in said["test_temporal_softmax_loss"]


def test_half_right_gru_tests_give_half_of_their_points(graded):
    """A GRU step that ignores reset_after: each GRU test passes its reset_after=False part and fails the other,
    nbgrader records half of the points, and the feedback lists the parts."""
    assert lost(graded, "reset_ignored", A4) == {"test_gru_step_forward": 7.5, "test_gru_step_backward": 7.5,
                                                 "test_gru_forward": 2.5, "test_gru_backward": 7.5}
    said = messages(graded, "reset_ignored", A4)
    for test in ("test_gru_step_forward", "test_gru_step_backward", "test_gru_forward", "test_gru_backward"):
        assert "✔ reset_after=False (1)" in said[test] and "✘ reset_after=True (1)" in said[test], said[test]
    assert "partial credit: 7.5 of 15" in said["test_gru_step_forward"] and "test_gru_step_forward (баллы: 7.5 из 15.0)" in feedback_text(graded, "reset_ignored", A4)
    assert "your gru_step_forward is wrong on these inputs" in said["test_gru_forward"]
