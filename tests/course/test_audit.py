"""The test audit of every assignment (python -m autograder audit), with the real grader.

No graded test may give full points to a wrong implementation of the function it grades, except those
listed with a reason in autograder/course/audit_exceptions.toml; no test may lose points because another function
is wrong without saying so; and the holes found by trying the tests as students would stay closed.
"""
import json

import pytest

from autograder.course import Course, audit

COURSE = Course.here()

pytestmark = pytest.mark.slow
KINDS = {"zeros", "mean", "echo", "scramble", "lookup", "first-call", "perturb", "negate", "scale", "nan", "ignore", "axis"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    found = audit.run(out=out, jobs=2, progress=lambda message: None)
    audit.write_report(found, out)
    return found, out


def caught(report, assignment, test):
    return {entry["mutant"] for entry in report[0]["assignments"][assignment]["tests"][test]["caught"]}


def test_no_graded_test_passes_a_wrong_implementation_of_its_function(report):
    """Every wrong implementation of every graded function loses points in every test of that function (or is an
    accepted exception), no test loses points for another function without saying so, and the perfect
    submission keeps full marks."""
    problems = audit.problems(report[0])
    assert not problems, "\n".join(f"{p['kind']}: {p.get('assignment', '')}/{p['test']}: {p['detail']}" for p in problems)


def test_every_assignment_meets_every_kind_of_wrong_code(report):
    """Every kind of wrong code of the issue is graded somewhere, those that fit any function in every assignment
    (a mask to ignore and an axis to move exist only where the reference has them), and every test meets many."""
    seen = set()
    for assignment in COURSE.assignment_ids:
        entry = report[0]["assignments"][assignment]
        kinds = {m.split()[0] for row in entry["tests"].values() for key in ("caught", "excepted") for m in
                 (x["mutant"] for x in row[key])}
        assert KINDS - {"ignore", "axis"} <= kinds, (assignment, sorted(KINDS - {"ignore", "axis"} - kinds))
        seen |= kinds
        for test, row in entry["tests"].items():   # a6's test_seq2seq_loss grades one number (its gradients: excepted)
            assert len(row["caught"]) >= 6, (assignment, test, len(row["caught"]))
    assert KINDS <= seen, sorted(KINDS - seen)


def test_the_holes_students_found_are_closed(report):
    """a4: zeros with the two published slide values; a5: all zeros passed the padding test."""
    assert {"lookup", "zeros"} <= caught(report, "a4_lstm_gru", "test_lstm_step_forward_slide")
    assert "zeros" in caught(report, "a5_charlm_birnn", "test_bidirectional_forward_padding")


def test_a_wrong_forward_costs_only_its_own_points(report):
    """In the cascade submissions (one function wrong in all its outputs, the rest a perfect student's code that
    calls it), a wrong forward costs no backward test; what a wrong function costs elsewhere is a test of a
    function built on it, and that test says so."""
    for assignment, entry in report[0]["assignments"].items():
        for cascade in entry["cascades"]:
            for other in cascade["lost"]:
                assert other["says_so"], (assignment, cascade["changed"], other)
                assert not other["test"].endswith("_backward") or not all(n.endswith("_forward") for n in cascade["changed"]) \
                    or any(n in other["message"] for n in cascade["changed"]) or "relies on it" in other["message"]
    a6 = {tuple(c["changed"]): c for c in report[0]["assignments"]["a6_seq2seq_attention"]["cascades"]}
    assert a6[("dot_attention_forward",)]["lost"] == []              # once 45 of 100 points for this one mistake
    for part in ("embedding_forward", "embedding_backward", "temporal_softmax_loss"):   # the whole model's loss is
        assert a6[(part,)]["lost"] == [], (part, a6[(part,)]["lost"])                    # judged with the student's parts


def test_the_report_has_a_table_per_assignment_and_the_json_everything(report):
    found, out = report
    text = (out / "audit.md").read_text()
    for assignment in COURSE.assignment_ids:
        assert f"## {assignment}" in text
    assert "| `test_lstm_step_forward_slide` | `lstm_step_forward` |" in text
    assert json.loads((out / "audit.json").read_text())["seconds"] == found["seconds"]
