"""The wrong implementations of the test audit (autograder.mutants) and its in-process side (autograder.audit)."""
import numpy as np
import pytest

from autograder.course import Course, audit, mutants
from autograder.intake import precheck

COURSE = Course.here()


def lstm_like_forward(x, W, mask=None):
    """Two outputs and a cache, like the course's *_forward functions."""
    out = x @ W if mask is None else (x @ W) * mask[:, None]
    return out, out.sum(axis=1), ("cache", x, W)


def test_every_output_kind_changes_the_values_and_keeps_the_cache():
    x, W = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4) / 10
    right = lstm_like_forward(x, W)
    for kind in mutants.OUTPUT_KINDS + mutants.LEAF_KINDS:
        wrong = mutants.wrong(lstm_like_forward, kind, forward=True)
        wrong(x, W)                                   # first-call is right on its first call only
        got = wrong(x, W)
        assert got[2] is not right[2] and got[2] == right[2], kind                     # the cache, as it was
        assert not all(np.array_equal(g, r) for g, r in zip(got[:2], right[:2])), kind  # some value changed
        assert [np.shape(g) for g in got[:2]] == [np.shape(r) for r in right[:2]], kind


def test_the_leaf_kinds_change_one_value_and_count_modulo():
    x, W = np.ones((2, 3)), np.ones((3, 4))
    right = lstm_like_forward(x, W)
    for leaf in (0, 1, 2, 3):
        got = mutants.wrong(lstm_like_forward, "negate", leaf=leaf, forward=True)(x, W)
        changed = [not np.array_equal(g, r) for g, r in zip(got[:2], right[:2])]
        assert changed == [leaf % 2 == 0, leaf % 2 == 1]


def test_nothing_is_changed_in_place():
    x, W = np.ones((2, 3)), np.ones((3, 4))
    kept = [x.copy(), W.copy()]
    for kind in mutants.OUTPUT_KINDS + mutants.LEAF_KINDS + ("shift",):
        mutants.wrong(lstm_like_forward, kind, forward=True)(x, W)
    assert np.array_equal(x, kept[0]) and np.array_equal(W, kept[1])


def test_scramble_rearranges_even_a_single_column():
    assert not np.array_equal(mutants.distort("scramble", np.arange(4.0).reshape(4, 1)), np.arange(4.0).reshape(4, 1))
    a = np.arange(6.0).reshape(2, 3)
    assert sorted(mutants.distort("scramble", a).ravel()) == sorted(a.ravel())


def test_ignore_makes_a_mask_all_true_and_an_optional_argument_none():
    x, W, mask = np.ones((3, 2)), np.ones((2, 2)), np.array([True, False, True])
    got = mutants.wrong(lstm_like_forward, "ignore", param="mask", forward=True)(x, W, mask)
    assert np.array_equal(got[0], x @ W)


def test_lookup_answers_the_visible_calls_row_by_row_and_zero_elsewhere():
    """The 'published values' cheat: the visible call's answer for its rows, even inside a larger batch."""
    def step(x, W):
        return np.tanh(x @ W)
    W = np.array([[0.5, -1.0], [2.0, 0.25]])
    slide = np.array([[1.0, 2.0]])
    table = mutants.pack([([slide, W], {}, step(slide, W))])
    cheat = mutants.wrong(step, "lookup", table=table)
    assert np.array_equal(cheat(slide, W), step(slide, W))
    batch = np.array([[3.0, -1.0], [1.0, 2.0], [0.5, 0.5]])
    got = cheat(batch, W)
    assert np.array_equal(got[1], step(slide, W)[0]) and np.array_equal(got[[0, 2]], np.zeros((2, 2)))


def test_pack_and_unpack_keep_the_structure_and_the_bits():
    value = [(np.array([1.5, np.pi]), {"t": 3, "m": np.eye(2)}), None, "s", True, 2.0 ** -30]
    again = mutants.unpack(mutants.pack(value))
    assert again[0][0].tolist() == [1.5, np.pi] and again[0][1]["t"] == 3 and np.array_equal(again[0][1]["m"], np.eye(2))
    assert again[1:] == [None, "s", True, 2.0 ** -30]
    assert mutants.unpack(mutants.pack([object()])) == [mutants.WILDCARD]


def test_a_wrong_class_answers_wrong_from_every_public_method():
    class Counter:
        def init(self, theta):
            return {"t": 0, "m": np.zeros_like(theta)}

        def step(self, theta, state):
            return theta - 1.0, {"t": state["t"] + 1, "m": state["m"] + theta}
    Wrong = mutants.wrong_class(Counter, "zeros", name="Counter")
    opt = Wrong()
    assert Wrong.__name__ == "Counter" and isinstance(opt, Counter)
    theta, state = opt.step(np.ones(2), opt.init(np.ones(2)))
    assert np.array_equal(theta, np.zeros(2)) and state["t"] == 0


def test_other_axis_is_valid_and_different():
    assert mutants.other_axis(2, np.zeros((2, 3, 4))) == 1
    assert mutants.other_axis(1, np.zeros((2, 3))) == 0
    assert mutants.other_axis(-1, [np.zeros((2, 3))]) == 0
    assert mutants.other_axis(0, np.zeros(3)) == 0             # one axis: nothing else to choose


@pytest.fixture(scope="module")
def assignments():
    return {aid: audit.load(aid) for aid in COURSE.assignment_ids}


def test_every_test_grades_one_function_and_every_graded_function_has_a_test(assignments):
    for a in assignments.values():
        assert set(a.target) == set(a.tests) and set(a.target.values()) == set(a.graded), a.id


def test_a_test_named_after_no_function_must_use_exactly_one():
    assert audit._target("test_it", "x = f(1)", {"f": "f", "g": "g"}) == "f"
    with pytest.raises(ValueError, match="cannot tell which function test_it grades"):
        audit._target("test_it", "x = f(1) + g(1)", {"f": "f", "g": "g"})
    assert audit._target("test_lstm_step_forward_slide", "", {"lstm_step_forward": 1, "lstm_step": 2}) == "lstm_step_forward"


def test_the_reference_passes_every_test_in_process(assignments):
    for a in assignments.values():
        namespace = audit.reference_namespace(a)
        failed = {t: o.message for t, o in audit.run_tests(a, namespace, seed=1).items() if o.fraction < 1}
        assert not failed, (a.id, failed)


def test_mutant_submissions_run_and_raise_no_flags(assignments):
    """Do the wrong implementations' cells compile, define what the tests call, and look like a student's code
    to the pre-run scan (no import of rnncore, no exec, no namespace tricks)?"""
    a = assignments["a4_lstm_gru"]
    calls = audit.record_calls(a)
    namespace = audit.reference_namespace(a)
    chosen = {name: audit.candidates(a, name, calls[name], namespace)[4] for name in a.graded}   # lookup: with a table
    tables = {name: audit.lookup_table(a, name, calls[name]) for name in a.graded}
    cells = audit.mutant_cells(a, chosen, tables)
    namespace = audit.reference_namespace(a, cells)
    assert all(namespace[name].__name__ == name for name in a.graded)
    nb = audit.submission_notebook(a, cells)
    assert precheck.scan_student_code(nb, a.id) == []


def test_the_audit_tells_wrong_from_right_in_process(assignments):
    """Are wrong implementations that always answer like the reference left out, and the others predicted?"""
    a = assignments["a3_rnn_bptt"]
    p = audit.plan(a)
    assert p.equivalent["rel_error"] == ["mean", "scramble"]           # a number: its mean is itself
    for k, chosen in enumerate(p.catch):
        for test in a.tests:
            if a.target[test] in chosen:
                assert p.predicted[k][test] and max(p.predicted[k][test]) < 1, (test, chosen[a.target[test]].label)


def test_exceptions_match_labels_and_outputs_literally():
    m = audit.Mutant("f", "negate", label="negate out[1]['Wx']", changes=["out[1]['Wx']"])
    exceptions = [{"test": "a/test_f", "outputs": ["out[1]*"], "reason": "r"}]
    assert audit._excepted(exceptions, "a", "test_f", m) == "r"
    assert audit._excepted([{"test": "a/test_f", "outputs": ["out[2]*"], "reason": "r"}], "a", "test_f", m) is None
    assert audit._excepted([{"test": "a/test_f", "mutant": "negate *", "reason": "r"}], "a", "test_f", m) == "r"
    assert audit._excepted([{"test": "a/test_f", "mutant": "negate out[1]", "reason": "r"}], "a", "test_f", m) is None


def test_the_exceptions_file_is_well_formed():
    for entry in audit.load_exceptions():
        assert entry["test"].split("/")[0] in COURSE.assignment_ids and len(entry["reason"]) > 20


def test_a_weak_test_is_reported_with_the_wrong_code_it_passes(assignments):
    """A test that checks only shapes: the audit must find that it passes zeros, the visible answers and the
    rest, and report each as uncaught (grades as the in-process run predicts them, here)."""
    a = audit.load("a4_lstm_gru")
    a.tests["test_lstm_step_forward_slide"] = (
        "out = call_student(lstm_step_forward, np.ones((2, 3)), np.zeros((2, 4)), np.zeros((2, 4)),\n"
        "                   np.ones((3, 16)), np.ones((4, 16)), np.zeros(16))\n"
        "assert np.shape(out[0]) == (2, 4), 'next_h has the wrong shape'\n")
    p = audit.plan(a)
    grades = {f"{a.id}-perfect": {t: a.points[t] for t in a.tests}}
    for k, chosen in enumerate(p.catch):
        grades[f"{a.id}-catch-{k:02d}"] = {t: a.points[t] * min(p.predicted[k][t] or [1.0]) for t in a.tests}
    for k, group in enumerate(p.cascade):
        grades[f"{a.id}-cascade-{k:02d}"] = {t: a.points[t] for t in a.tests}
    entry = audit.verdicts(p, grades, {}, [])
    missed = {u["mutant"] for u in entry["tests"]["test_lstm_step_forward_slide"]["uncaught"]}
    assert {"zeros", "mean", "lookup", "first-call", "scramble"} <= missed
    assert not entry["tests"]["test_lstm_step_forward"]["uncaught"]
    kinds = {p["kind"] for p in entry["problems"] if p["test"] == "test_lstm_step_forward_slide"}
    assert kinds == {"uncaught"}
    text = audit.markdown({"assignments": {a.id: entry}, "grading_seconds": 0, "seconds": 0, "unused_exceptions": []})
    row = next(line for line in text.splitlines() if line.startswith("| `test_lstm_step_forward_slide`"))
    assert "zeros" in row and "lookup" in row and "## Problems" in text
