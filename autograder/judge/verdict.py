"""Run a test cell in the trusted grader process and decide whether it passed.

A test cell's code is the instructor's (taken from the source notebook, hidden tests included). It
runs here, in a namespace of the grader's, where the names the notebook defines are bound to
`autograder.judge.remote.StudentObject`s: the student's functions are called in the sandboxed kernel on
the grader's inputs, and everything else (the reference, the expected values, the comparison) stays
in this process. The verdict is a `Verdict`; the cell's outputs in the graded notebook are written
from it (`verdict_outputs`), so a test's points never depend on what the kernel prints or returns.

Before the first test of a notebook, the trusted namespace runs the setup cell and every given
(locked, ungraded) cell that defines a name some test uses, from the source: tests may compute
expected values with helpers the notebook gives, and those must be the given ones, not the
student's redefinitions.
"""
import ast
import builtins
import io
import time
import traceback
from contextlib import redirect_stdout
from dataclasses import dataclass, field

from nbformat.v4 import new_output

from .. import testing
from ..kernel import wire
from . import remote

MAX_MESSAGE = 2000             # characters of a failure message kept in the feedback
MAX_PRINTED = 4000             # characters of what a test and the student's code printed


@dataclass
class Verdict:
    """What the grader decided about one test cell."""
    grade_id: str
    passed: bool
    message: str = ""                    # why it failed (the assertion's message, an error)
    printed: str = ""                    # what the test printed, and notes on the student's code
    timed_out: bool = False
    kernel_died: bool = False
    seconds: float = 0.0
    parts: list = field(default_factory=list)   # (name, weight, passed, message) of a test made of parts

    def fraction(self):
        """The share of the cell's points earned: 1 or 0, or the weight of the passed parts over all."""
        if self.passed:
            return 1.0
        if self.timed_out or self.kernel_died or not self.parts:
            return 0.0
        return sum(w for _, w, ok, _ in self.parts if ok) / sum(w for _, w, _, _ in self.parts)


def names_used(source):
    """Names a cell reads but never binds anywhere in its code (the ones the notebook must provide)."""
    tree = ast.parse(source)
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return loaded - bound - set(dir(builtins))


def names_defined(source):
    """Names a given cell binds at its top level (functions, classes, imports, assignments)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def prelude(setup_source, given_sources, test_sources):
    """The given cells the trusted namespace runs before the tests: the setup cell and those tests need."""
    needed = set().union(*(names_used(s) for s in test_sources)) if test_sources else set()
    return [setup_source] + [s for s in given_sources if names_defined(s) & needed]


def trusted_namespace(prelude_sources):
    """A fresh namespace for the tests of one notebook, with the prelude run in it."""
    namespace = {"__name__": "__grader__"}
    for number, source in enumerate(prelude_sources):
        exec(compile(source, f"<given cell {number}>", "exec"), namespace)
    return namespace


def judge(grade_id, source, namespace, kernel):
    """Run one test cell's source with the student's names from `kernel` (a Remote); return a Verdict."""
    printed = io.StringIO()
    verdict = Verdict(grade_id, passed=False)
    started = time.perf_counter()
    bound = []
    try:
        kernel.open()
        found = kernel.lookup(names_used(source) - set(namespace))
        namespace.update(found)
        bound = list(found)
        with redirect_stdout(printed):
            exec(compile(source, f"<{grade_id}>", "exec"), namespace)
        verdict.passed = True
    except remote.CallTimeout:
        verdict.timed_out = True
        verdict.message = "the student's code ran past the time limit and was interrupted"
    except remote.KernelGone as exc:
        verdict.kernel_died = True
        verdict.timed_out = exc.ignored_interrupt
        verdict.message = str(exc)
    except Exception as exc:                             # a failed check, or the student's code failing
        verdict.message = _failure(exc, grade_id)
        if isinstance(exc, testing.PartsFailed):
            verdict.parts = [(str(n)[:200], float(w), bool(ok), str(m)[:MAX_MESSAGE]) for n, w, ok, m in exc.parts]
    finally:
        for name in bound:
            namespace.pop(name, None)
        if not verdict.kernel_died and not kernel.close():
            verdict.kernel_died = True
    verdict.seconds = time.perf_counter() - started
    notes = "\n".join(kernel.notes)
    verdict.printed = (printed.getvalue() + (notes + "\n" if notes else ""))[:MAX_PRINTED]
    return verdict


def _failure(exc, grade_id):
    """The failure as the student may see it: type and message, and the test's line, never its source."""
    line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == f"<{grade_id}>"), None)
    message = str(exc).strip()
    if isinstance(exc, wire.WireError):
        message = f"the value returned cannot be graded: {message}"
    if getattr(exc, "from_student", False):
        return message[:MAX_MESSAGE]
    text = f"{type(exc).__name__}: {message}" if message else f"{type(exc).__name__} (a check failed at line {line} of the test)"
    return text[:MAX_MESSAGE]


def verdict_outputs(verdict, points=None):
    """The outputs the graded notebook shows for a test cell: what it printed (a passing test says so),
    then an error output if and only if it earned nothing.

    A test that passed some of its parts (and `points`, the cell's points, is given) instead ends with
    the list of its parts and an `execute_result` holding its score, points times the weight of the
    passed parts over all: nbgrader gives that score (partial credit), and the feedback shows the list.
    """
    outputs = []
    if verdict.printed:
        outputs.append(new_output("stream", name="stdout", text=verdict.printed))
    fraction = verdict.fraction()
    if verdict.passed:
        return outputs
    if fraction > 0 and points:
        score = min(float(points), round(float(points) * fraction, 4))
        outputs.append(new_output("stream", name="stdout",
                                  text=f"{testing.describe_parts(verdict.parts)}\npartial credit: {score:g} of {float(points):g}\n"))
        outputs.append(new_output("execute_result", data={"text/plain": repr(score)}, execution_count=None))
        return outputs
    ename, _, evalue = verdict.message.partition(": ")
    outputs.append(new_output("error", ename=ename or "Failed", evalue=evalue, traceback=[verdict.message]))
    return outputs
