"""Partial credit and fair messages in autograder.testing, and how the judge turns them into nbgrader's score."""
import numpy as np
import pytest
from nbformat.v4 import new_code_cell
from nbgrader.utils import determine_grade

from autograder import testing
from autograder.judge import verdict as judge
from autograder.testing import PartsFailed, check_gradients, compare, parts, used_wrong


def graded_cell(outputs, points=10):
    cell = new_code_cell("pass", metadata={"nbgrader": {"grade": True, "solution": False, "points": points,
                                                         "grade_id": "test_x", "locked": True}})
    cell.outputs = outputs
    return cell


def test_parts_that_all_pass_print_which_and_raise_nothing(capsys):
    """Does a test made of parts that all pass stay silent but for the list of its parts?"""
    with parts() as part:
        with part("values", 5):
            assert 1 + 1 == 2
        with part("stability", 3):
            pass
    printed = capsys.readouterr().out
    assert "✔ values (5)" in printed and "✔ stability (3)" in printed and "weight 8 of 8" in printed


def test_a_failing_part_does_not_stop_the_others_and_the_verdict_names_each():
    """Is every part run, and does the failure list the failed one with its message and the passed one?"""
    ran = []
    with pytest.raises(PartsFailed) as caught:
        with parts() as part:
            with part("values", 5):
                ran.append("values")
                raise AssertionError("sigmoid: sigmoid(x) differs from the reference")
            with part("stability", 3):
                ran.append("stability")
            with part("shape", 2):
                raise ValueError("the student's code raised")
    assert ran == ["values", "stability"]
    assert caught.value.parts == [("values", 5, False, "sigmoid: sigmoid(x) differs from the reference"),
                                  ("stability", 3, True, ""), ("shape", 2, False, "ValueError: the student's code raised")]
    assert "parts passed: 1 of 3 (weight 3 of 10)" in str(caught.value) and "✘ values (5): sigmoid" in str(caught.value)


def test_a_test_of_parts_of_an_unwritten_function_fails_with_not_implemented_error():
    """The release's stubs raise NotImplementedError: then the cell says just that, as every other test does."""
    with pytest.raises(NotImplementedError):
        with parts() as part:
            with part("values"):
                raise NotImplementedError()
            with part("stability"):
                raise NotImplementedError()


def test_a_dead_kernel_ends_the_test_not_just_a_part():
    """Do the grader's own errors (a dead or stuck kernel) pass through a part, so that the judge sees them?"""
    class KernelGone(Exception):
        pass
    with pytest.raises(KernelGone):
        with parts() as part:
            with part("values"):
                raise KernelGone("the kernel died")


@pytest.mark.parametrize("bad", [{"weight": 0}, {"weight": -1}])
def test_part_weights_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive"):
        with parts() as part:
            with part("values", **bad):
                pass


def test_part_names_must_differ():
    with pytest.raises(ValueError, match="two parts are named"):
        with parts() as part:
            with part("values"):
                pass
            with part("values"):
                pass


class NoKernel:
    """What judge() needs of a kernel when the test calls nothing of the student's."""
    notes = []

    def open(self):
        pass

    def lookup(self, names):
        return {}

    def close(self):
        return True


PARTIAL_TEST = '''
with parts() as part:
    with part("values", 3):
        assert True
    with part("stability", 1):
        assert False, "overflow at x = 1000"
'''


def test_the_judge_turns_passed_parts_into_nbgraders_partial_score():
    """Does a test with 3 of 4 weight passed score 7.5 of 10 in nbgrader, with the parts listed and no error output?"""
    namespace = judge.trusted_namespace(["from autograder.testing import parts"])
    verdict = judge.judge("test_x", PARTIAL_TEST, namespace, NoKernel())
    assert not verdict.passed and verdict.fraction() == 0.75
    assert verdict.parts == [("values", 3.0, True, ""), ("stability", 1.0, False, "overflow at x = 1000")]
    outputs = judge.verdict_outputs(verdict, points=10)
    assert [o.output_type for o in outputs] == ["stream", "execute_result"]
    assert "✔ values (3)" in outputs[0].text and "✘ stability (1): overflow at x = 1000" in outputs[0].text
    assert "partial credit: 7.5 of 10" in outputs[0].text
    assert determine_grade(graded_cell(outputs)) == (7.5, 10.0)


def test_no_part_passed_is_an_error_and_all_passed_is_full_marks():
    namespace = judge.trusted_namespace(["from autograder.testing import parts"])
    failed = judge.judge("test_x", PARTIAL_TEST.replace("assert True", "assert False, 'wrong values'"), namespace, NoKernel())
    outputs = judge.verdict_outputs(failed, points=10)
    assert outputs[-1].output_type == "error" and determine_grade(graded_cell(outputs)) == (0, 10.0)
    passed = judge.judge("test_x", PARTIAL_TEST.replace("assert False", "assert True"), namespace, NoKernel())
    outputs = judge.verdict_outputs(passed, points=10)
    assert all(o.output_type == "stream" for o in outputs) and "weight 4 of 4" in outputs[0].text
    assert determine_grade(graded_cell(outputs)) == (10.0, 10.0)


def test_a_partial_score_never_exceeds_the_points_nbgrader_accepts():
    """nbgrader refuses a partial score above the cell's points: rounding must stay below."""
    verdict = judge.Verdict("test_x", passed=False, message="m", parts=[("a", 1 / 3, True, ""), ("b", 1e-12, False, "x")])
    outputs = judge.verdict_outputs(verdict, points=7)
    assert determine_grade(graded_cell(outputs, points=7))[0] <= 7


# --- fair messages: a test says when another function of the student's is the culprit ----------------------------
def test_used_wrong_names_only_the_functions_that_are_wrong():
    right, wrong = (np.ones(3), np.zeros(2)), (np.ones(3), np.ones(2))
    assert used_wrong({"f": (right, right)}) == ""
    note = used_wrong({"f": (right, right), "g": (wrong, right), "h": ("not numbers", np.ones(1))})
    assert "your g is wrong" in note and "your h is wrong" in note and "your f" not in note


def test_a_function_not_written_yet_costs_nothing_to_a_test_that_passes():
    """uses= given as a function is asked only when the check fails: a student's unwritten helper (it raises)
    does not fail a test whose own function is right, and is named when the test fails."""
    def not_written():
        raise NotImplementedError()
    compare("rnn_forward", (np.ones(2),), (np.ones(2),), ["h"], uses={"rnn_step_forward": not_written})
    with pytest.raises(AssertionError, match="your rnn_step_forward is wrong"):
        compare("rnn_forward", (np.zeros(2),), (np.ones(2),), ["h"], uses={"rnn_step_forward": not_written})


def test_compare_appends_the_note_on_a_wrong_function_it_relied_on():
    with pytest.raises(AssertionError, match=r"h differs .*your rnn_step_forward is wrong on these inputs"):
        compare("rnn_forward", (np.zeros(2),), (np.ones(2),), ["h"],
                uses={"rnn_step_forward": (np.zeros(1), np.ones(1))})


def dense_forward(x, W, b):
    return x @ W + b, (x, W)


def dense_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def test_a_right_backward_passes_whatever_the_forward_outputs_when_graded():
    """A forward whose outputs are wrong but whose cache is right: its backward gets its points against the
    reference's gradients; without them (the student's notebook) the numerical check points at the forward."""
    def doubling_forward(x, W, b):
        out, cache = dense_forward(x, W, b)
        return 2 * out, cache
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((3, 2)), rng.standard_normal((2, 4)), rng.standard_normal(4))
    dout = rng.standard_normal((3, 4))
    expected = dense_backward(dout, dense_forward(*args)[1])
    check_gradients("dense_backward", doubling_forward, dense_backward, args, ["x", "W", "b"], dout, expected=expected)
    with pytest.raises(AssertionError, match="numerical gradient is that of your dense_forward: if dense_forward is wrong"):
        check_gradients("dense_backward", doubling_forward, dense_backward, args, ["x", "W", "b"], dout)


def test_a_wrong_backward_fails_and_names_a_wrong_forward_when_there_is_one():
    """A forward and a backward that are both wrong but agree with each other: the backward fails, and the message
    says that the forward is wrong and that the backward is its gradient."""
    def doubling_forward(x, W, b):
        out, cache = dense_forward(x, W, b)
        return 2 * out, cache

    def doubling_backward(dout, cache):
        return tuple(2 * g for g in dense_backward(dout, cache))
    rng = np.random.default_rng(1)
    args = (rng.standard_normal((3, 2)), rng.standard_normal((2, 4)), rng.standard_normal(4))
    dout = rng.standard_normal((3, 4))
    expected = dense_backward(dout, dense_forward(*args)[1])
    with pytest.raises(AssertionError) as caught:
        check_gradients("dense_backward", doubling_forward, doubling_backward, args, ["x", "W", "b"], dout, expected=expected,
                        forward_expected=dense_forward(*args)[0], forward_name="dense_forward")
    message = str(caught.value)
    assert "dx differs from the reference" in message and "db differs from the reference" in message
    assert "your dense_forward is wrong on these inputs" in message
    assert "your dense_backward is the gradient of your dense_forward" in message

