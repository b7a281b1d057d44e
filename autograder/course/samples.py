"""The sample submissions bundled in autograder/samples/, made from the course's own notebooks.

    python -m autograder.course.samples      # rewrite autograder/samples/ from assignments/

Each sample starts from the student version of an assignment, filled in with the reference
solution (what a perfect student hands in), then changed in one way that the grader must
handle. `honest` samples are what real students produce (mistakes, crashes, renamed files);
`hostile` samples attack the grader (see autograder/README.md, threat model).
"""
import re
import shutil

import nbformat
from nbgrader.utils import is_grade, is_solution

from ..intake.restore import grade_id
from . import SAMPLES, Course

HONEST = SAMPLES / "submissions"
HOSTILE = SAMPLES / "hostile"
SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)


def _with_body(source, body):
    """Replace the region between the solution markers of a cell's source with `body`."""
    match = re.search(r"^(\s*)### BEGIN SOLUTION\s*$.*?^\s*### END SOLUTION\s*$", source, re.MULTILINE | re.DOTALL)
    indent = match.group(1)
    new = "\n".join(indent + line if line else line for line in body.splitlines())
    return source[:match.start()] + new + source[match.end():]


def filled(assignment, bodies=None, course=None):
    """The student version of `assignment` with every solution cell completed from solutions/.

    bodies {grade_id: code}: replace the solution of those cells by other code (a student's attempt).
    """
    bodies = bodies or {}
    course = course or Course.here()
    release = nbformat.read(str(course.assignments / assignment / f"{assignment}.ipynb"), as_version=4)
    source = nbformat.read(str(course.solutions / assignment / f"{assignment}.ipynb"), as_version=4)
    answers = {grade_id(c): c.source for c in source.cells if is_solution(c)}
    for cell in release.cells:
        cell_id = grade_id(cell)
        if is_solution(cell):
            answer = answers[cell_id]
            if cell_id in bodies:
                answer = _with_body(answer, bodies.pop(cell_id))
            cell.source = SOLUTION_MARKERS.sub("", answer)
    if bodies:
        raise KeyError(f"no solution cells {sorted(bodies)} in {assignment}")
    return release


def solution_cell(nb, cell_id):
    """The cell with this grade_id (KeyError naming the ids that exist)."""
    for cell in nb.cells:
        if grade_id(cell) == cell_id:
            return cell
    raise KeyError(f"no cell {cell_id!r}; cells: {[grade_id(c) for c in nb.cells if grade_id(c)]}")


def graded_cells(assignment, course=None):
    """[(grade_id, points)] of the graded cells of an assignment, in notebook order."""
    source = nbformat.read(str((course or Course.here()).solutions / assignment / f"{assignment}.ipynb"), as_version=4)
    return [(grade_id(c), c.metadata["nbgrader"]["points"]) for c in source.cells if is_grade(c)]


def add_cell(nb, code):
    """Append a code cell of the student's own (no nbgrader metadata), as students may."""
    nb.cells.append(nbformat.v4.new_code_cell(code, id=f"student-cell-{len(nb.cells)}"))   # a stable id
    return nb


def without_cell(nb, cell_id):
    nb.cells = [c for c in nb.cells if grade_id(c) != cell_id]
    return nb


def with_cell_source(nb, cell_id, code):
    solution_cell(nb, cell_id).source = code
    return nb


def _after(assignment, cell_id):
    """The test cells from cell_id to the end (what a kernel crash in that cell costs)."""
    ids = [g for g, _ in graded_cells(assignment)]
    return ids[ids.index(cell_id):]


A1 = "a1_neuron"


def honest_samples():
    """{student: Sample} of the mistakes and accidents real students hand in (all on a1_neuron but `perfect`)."""
    course = Course.here()
    release = lambda: nbformat.read(str(course.assignments / A1 / f"{A1}.ipynb"), as_version=4)
    all_tests = [g for g, _ in graded_cells(A1)]
    return {
        "perfect": Sample({a: filled(a) for a in course.assignment_ids}),
        "partly_wrong": Sample({A1: filled(A1, {
            "relu_grad": "return (x >= 0).astype(np.float64)",               # wrong at x = 0
            "mae_loss": "diff = y - t\nreturn float(np.mean(np.abs(diff))), np.sign(diff)"})},  # forgot / n
            lost=["test_relu_grad", "test_mae_loss"]),
        "untouched": Sample({A1: release()}, lost=all_tests),
        "infinite_loop": Sample({A1: filled(A1, {"mae_loss": "while True:\n    pass"})},
                                lost=["test_mae_loss"], problems=["timeout"]),
        "raises": Sample({A1: filled(A1, {"bce_loss": "raise ValueError('not finished yet')"})},
                         lost=["test_bce_loss"]),
        "kernel_crash": Sample({A1: filled(A1, {"dense_backward": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"})},
                               lost=_after(A1, "test_dense_backward"), problems=["kernel-died", "not-run"]),
        "deleted_test_cell": Sample({A1: without_cell(filled(A1), "test_softmax")}, problems=["deleted-test-cell"]),
        "edited_test_cell": Sample({A1: with_cell_source(filled(A1, {"dense_forward": "return x @ W + b + 1.0, (x, W)"}),
                                                         "test_dense_forward", "assert True")},
                                   lost=["test_dense_forward"], problems=["edited-test-cell"]),
        "unstable": Sample({A1: filled(A1, {"sigmoid": "return 1 / (1 + np.exp(-x))                  # overflows for x < -709"})},
                           partial={"test_sigmoid": 5.0}, lost=["test_sigmoid_grad"]),        # 5 of 8: the values, not stability
        "warns": Sample({A1: filled(A1, {"relu": "import warnings\n"
                                                 "warnings.warn('relu: a slow but correct version', UserWarning)\n"
                                                 "np.log(np.zeros(1))                # RuntimeWarning: divide by zero\n"
                                                 "return np.maximum(x, 0)"})}),
        "wrong_notebook_name": Sample({A1: filled(A1)}, name="a1_neuron (1).ipynb", problems=["renamed-notebook"]),
        "malformed_json": Sample({A1: filled(A1)}, malformed=True, lost=all_tests, problems=["malformed-notebook"]),
    }


def hostile_samples():
    """{student: Sample} of submissions that attack the grader (all on a1_neuron).

    Each one also contains correct code for the functions it does not abuse, so its expected
    score says exactly which tests the attack may cost it - and the others must be untouched.
    """
    find_repo = "import autograder, os\nrepo = os.path.dirname(os.path.dirname(autograder.__file__))\n"
    return {
        "fork_bomb": Sample({A1: add_cell(filled(A1), "import os\nwhile True:\n    os.fork()")},
                            problems=["suspected-cheating"]),
        "memory_bomb": Sample({A1: filled(A1, {"relu": "hoard = [bytearray(2**30) for _ in range(64)]\n"
                                                       "return np.maximum(x, 0)"})},
                              lost=["test_relu"]),
        "huge_print": Sample({A1: with_cell_source(filled(A1), "tanh", solution_cell(filled(A1), "tanh").source +
                                                   "\n\nfor _ in range(2**20):\n    print('x' * 1023)   # 1 GiB")},
                             problems=["output-truncated"]),
        "gradebook_attack": Sample({A1: add_cell(filled(A1), (
            find_repo + "import glob, sqlite3\n"
            "found = [p for root in ('/work', '/home', '/root', '/tmp', '/var', os.getcwd(), repo)\n"
            "         for p in glob.glob(os.path.join(root, '**', '*.db'), recursive=True)]\n"
            "for path in found:\n"
            "    try:\n"
            "        db = sqlite3.connect(path)\n"
            "        db.execute('UPDATE grade SET auto_score = 1000')\n"
            "        db.commit()\n"
            "    except Exception as exc:\n"
            "        print('refused:', path, exc)\n"
            "print('databases found:', len(found))"))}),
        "read_solutions": Sample({A1: add_cell(filled(A1), (
            find_repo + "import glob\n"
            "for pattern in ('solutions/*/*.ipynb', 'autograder/samples/*/*/*/*.ipynb', '.git/objects/*/*'):\n"
            "    print(pattern, len(glob.glob(repo + '/' + pattern)))"))}),
        "delete_files": Sample({A1: add_cell(filled(A1), (
            find_repo + "import shutil\n"
            "for target in ('solutions', 'rnncore', 'autograder', 'assignments'):\n"
            "    shutil.rmtree(repo + '/' + target, ignore_errors=True)"))},
            problems=["suspected-cheating"]),
        "calls_reference": Sample({A1: filled(A1, {
            "relu": "import rnncore\nreturn rnncore.relu(x)",
            "softmax": "return getattr(__import__('rnn' + 'core'), 'softmax')(z, axis=axis)",
            "sigmoid": "import types, rnncore\n"
                       "f = types.FunctionType(rnncore.sigmoid.__code__, rnncore.sigmoid.__globals__)\nreturn f(x)"})},
            lost=["test_relu", "test_softmax", "test_sigmoid", "test_sigmoid_grad"],
            problems=["suspected-cheating"]),
        "patches_numpy": Sample({A1: with_cell_source(filled(A1, {"tanh": "return np.zeros_like(x)"}), "tanh",
                                                      solution_cell(filled(A1), "tanh").source +
                                                      "\n\nnp.allclose = lambda *args, **kwargs: True\n"
                                                      "np.isclose = lambda *args, **kwargs: True")},
                                problems=["suspected-cheating"]),
        "patches_helpers": Sample({A1: with_cell_source(filled(A1, {"relu": "return x"}), "relu",
                                                        solution_cell(filled(A1), "relu").source +
                                                        "\n\nimport autograder.testing\n"
                                                        "autograder.testing.compare = lambda *args, **kwargs: None")},
                                  problems=["suspected-cheating"]),
        "exits": Sample({A1: filled(A1, {"relu": "import sys\nsys.exit(0)"})}, lost=["test_relu"]),
        "ignores_interrupt": Sample({A1: filled(A1, {"mae_loss": "import signal\n"
                                                                 "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                                                 "while True:\n    pass"})},
                                    lost=_after(A1, "test_mae_loss"), problems=["timeout", "not-run"]),
    }


class Sample:
    """Notebooks of one sample student, and what grading them must give."""

    def __init__(self, notebooks, lost=(), problems=(), name=None, malformed=False, partial=None):
        self.notebooks = notebooks            # {assignment: notebook}
        self.lost = list(lost)                # test cells that must score 0 (all others full marks)
        self.partial = dict(partial or {})    # test cells that must score part of their points: {grade_id: score}
        self.problems = list(problems)        # problem kinds report.json must list
        self.name = name                      # file name, if not <assignment>.ipynb
        self.malformed = malformed            # write truncated JSON

    def write(self, folder, student):
        for assignment, nb in self.notebooks.items():
            path = folder / student / assignment / (self.name or f"{assignment}.ipynb")
            path.parent.mkdir(parents=True, exist_ok=True)
            text = nbformat.writes(nb)
            path.write_text(text[:len(text) // 2] if self.malformed else text)

    def expected_scores(self, assignment):
        """{grade_id: expected score} for one of this sample's assignments."""
        return {g: self.partial.get(g, 0.0 if g in self.lost else float(p)) for g, p in graded_cells(assignment)}


def write_all():
    """Rewrite autograder/samples/ from the current assignments."""
    for folder, samples in ((HONEST, honest_samples()), (HOSTILE, hostile_samples())):
        shutil.rmtree(folder, ignore_errors=True)
        for student, sample in samples.items():
            sample.write(folder, student)
        print(f"wrote {len(samples)} samples to {folder}")


if __name__ == "__main__":
    write_all()
