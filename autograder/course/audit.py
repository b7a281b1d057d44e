"""python -m autograder audit: do the tests fail wrong code? Every graded test against wrong implementations.

For every graded function (or class) of an assignment - what its solution cells define and its tests
call - the audit makes wrong implementations from the reference answer (autograder.course.mutants: zeros,
constants, echoed inputs, scrambled outputs, the visible tests' answers for their inputs, one output
changed a little or negated or doubled or NaN, an axis moved, a mask ignored, right only on the first
call), puts them into otherwise perfect submissions and grades those with the real grader
(autograder.pipeline.grade). A test that gives full points to a wrong implementation of the function it
grades has a hole. Two kinds of submissions:

- catch submissions: submission k carries the k-th wrong implementation of every function at once.
  Every function there is a private copy of the reference whose calls to other graded functions go
  to their private copies, so a wrong function can only reach another's test through that test's
  own calls; the cascade submissions check that it does not.
- cascade submissions: one function changed in all its outputs (`shift`), every other function the
  perfect student's code, which calls it as a student's would. Every test of another function must
  still pass, or say in its message that the wrong one is wrong ("your F is wrong ..."), or one
  built on it.

Before grading, every wrong implementation is run through the tests in this process (the source
notebook's code is the reference answer, two fixed seeds), each test seeing only its own function's
wrong implementation, and dropped if it never answers differently from the reference on the tests'
inputs (it is not wrong there: no test can fail it) or if it raises (any test that calls it fails it).
The verdicts are the real grader's; where the grader and the in-process run disagree on a test, that
wrong implementation is graded again, alone. The audit's submissions carry a cell of their own that
makes the notebook's timed training loops stop at once (their clock runs fast): they are there for
the test cells, and one that defines the wrong implementations (`mutants_cell`).

Problems (`problems`, and the exit code of the command): uncaught (a test gave full points to a wrong
implementation of its function), cascade (a test lost points because another function was wrong,
without saying so), unreliable (caught for one fixed seed only), baseline (the perfect submission lost
points), unused-exception. Accepted holes are listed with a reason in autograder/course/audit_exceptions.toml.

The same in-process runner (`reference_namespace`, `run_cell`) runs every graded test against the
reference over many seeds (tests/course/test_reference_seeds.py).
"""
import ast
import copy
import html
import io
import json
import re
import shutil
import tempfile
import textwrap
import time
import tomllib
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import testing
from ..judge import verdict as judge
from . import Course, mutants

EXCEPTIONS = Path(__file__).resolve().parent / "audit_exceptions.toml"
SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)",
                    re.MULTILINE | re.DOTALL)
PREFIX = "_audit_ref_"                     # the private copy of a graded function in a mutant submission
MAX_AXIS_SITES = 3                         # wrong-axis mutants per function
PRESCREEN_SEEDS = (11, 12)                 # seeds of the in-process runs that tell wrong answers from right


# --- what the audit knows of an assignment, from its source notebook ---------------------------------------
@dataclass
class Assignment:
    id: str
    setup: str
    given: list                            # sources of the locked, ungraded code cells
    solutions: dict                        # grade_id -> the reference answer (solution markers removed)
    tests: dict                            # grade_id -> source of a graded test cell
    points: dict                           # grade_id -> points of that test cell
    graded: dict                           # function or class name -> grade_id of the solution cell defining it
    classes: set                           # the graded names that are classes
    target: dict                           # test grade_id -> the graded name it grades
    calls: dict = field(default_factory=dict)      # graded name -> graded names its reference uses (transitively)
    prelude: list = field(default_factory=list)    # given sources the tests and the solutions need (judge.prelude)
    course: Course = None                          # the course the source notebook belongs to

    def tests_of(self, name):
        return [t for t, n in self.target.items() if n == name]

    def depends(self, test):
        """The graded names a test relies on besides its own: what it calls, and what those use."""
        direct = judge.names_used(self.tests[test]) & set(self.graded)
        found = set(direct)
        for name in direct:
            found |= self.calls[name]
        return found - {self.target[test]}


def load(assignment_id, course=None):
    """The Assignment of a source notebook of `course` (default: this repository's), one notebook per assignment
    as in this course."""
    import nbformat
    from nbgrader.utils import is_grade, is_locked, is_solution
    from ..intake.restore import SETUP, grade_id
    course = course or Course.here()
    (path,) = course.source_notebooks(assignment_id).values()
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    setup = next((c.source for c in code if grade_id(c) == SETUP), "")
    given = [c.source for c in code if is_locked(c) and not is_grade(c) and grade_id(c) != SETUP]
    solutions = {grade_id(c): SOLUTION_MARKERS.sub("", c.source) for c in code if is_solution(c)}
    tests = {grade_id(c): c.source for c in code if is_grade(c) and not is_solution(c)}
    points = {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in code if is_grade(c) and not is_solution(c)}
    used = set().union(*(judge.names_used(s) for s in tests.values()))
    graded, classes = {}, set()
    for cell_id, source in solutions.items():
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in used:
                graded[node.name] = cell_id
                if isinstance(node, ast.ClassDef):
                    classes.add(node.name)
    a = Assignment(assignment_id, setup, given, solutions, tests, points, graded, classes, {}, course=course)
    for test in tests:
        a.target[test] = _target(test, tests[test], graded)
    direct = {name: judge.names_used(_definition(solutions[cell], name)) & set(graded) - {name}
              for name, cell in graded.items()}
    for name in graded:
        seen, todo = set(), list(direct[name])
        while todo:
            other = todo.pop()
            if other not in seen:
                seen.add(other)
                todo.extend(direct[other])
        a.calls[name] = seen - {name}
    a.prelude = judge.prelude(setup, given, list(tests.values()) + [solutions[cell] for cell in graded_cells(a)])
    return a


def _target(test, source, graded):
    """The graded name a test grades: test_<name> or test_<name>_<what>, else the one graded name it uses."""
    rest = test[len("test_"):] if test.startswith("test_") else test
    named = [n for n in graded if rest == n or rest.startswith(n + "_")]
    if named:
        return max(named, key=len)
    used = sorted(judge.names_used(source) & set(graded))
    if len(used) == 1:
        return used[0]
    raise ValueError(f"cannot tell which function {test} grades: name it test_<function>[_<what>] "
                     f"(it uses {', '.join(used) or 'no graded function'})")


def _definition(source, name):
    """The source of one top-level def or class of a cell."""
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return ast.unparse(node)
    raise KeyError(name)


def graded_cells(a):
    """The solution cells that define graded names, in notebook order."""
    return [cell for cell in a.solutions if cell in set(a.graded.values())]


# --- running tests in this process ------------------------------------------------------------------------
def reference_namespace(a, solutions=None):
    """A namespace with the setup cell, the given cells the tests and solutions use, and the solution cells
    that define graded names (`solutions`: {grade_id: source} to run instead of the reference's)."""
    namespace = judge.trusted_namespace(a.prelude)
    namespace["_audit_mutants"] = mutants
    for cell in graded_cells(a):
        source = (solutions or {}).get(cell, a.solutions[cell])
        exec(compile(source, f"<{cell}>", "exec"), namespace)
    return namespace


def split_hidden(source):
    """(the visible code, the rest): the rest starts at the first hidden block and runs to the end."""
    match = HIDDEN.search(source)
    return (source, "") if match is None else (source[:match.start()], source[match.start():])


@dataclass
class Outcome:
    """What one test cell did in this process: the share of its points and why it lost the rest."""
    fraction: float
    message: str = ""
    parts: list = field(default_factory=list)


def run_cell(namespace, test, source, seed=None):
    """Run a test cell's source in `namespace` (fresh_rng seeded with `seed` when given); an Outcome."""
    if seed is not None:
        namespace["fresh_rng"] = lambda: (np.random.default_rng(seed), seed)
    printed = io.StringIO()
    try:
        with redirect_stdout(printed), np.errstate(all="ignore"):
            exec(compile(source, f"<{test}>", "exec"), namespace)
    except testing.PartsFailed as exc:
        parts = list(exc.parts)
        return Outcome(sum(w for _, w, ok, _ in parts if ok) / sum(w for _, w, _, _ in parts), str(exc), parts)
    except Exception as exc:
        return Outcome(0.0, f"{type(exc).__name__}: {exc}")
    return Outcome(1.0)


def run_tests(a, namespace, seed, tests=None):
    """Every test cell (or those listed), in notebook order, in one namespace as the grader runs them."""
    return {t: run_cell(namespace, t, a.tests[t], seed) for t in a.tests if tests is None or t in tests}


# --- the wrong implementations of each graded name ---------------------------------------------------------
@dataclass
class Mutant:
    """One wrong implementation of one graded function or class."""
    function: str
    kind: str                              # a kind of autograder.course.mutants, or "axis" (written here as "code")
    leaf: int = 0                          # the value changed by a leaf kind
    param: str = ""                        # the argument `ignore` ignores
    site: int = -1                         # the axis= of the reference's code that `axis` moves
    label: str = ""                        # what the report calls it, e.g. "negate out[2]", "axis 1 (sum)"
    changes: list = field(default_factory=list)    # the outputs it was seen to change (in-process)


def is_forward(name):
    return name.endswith("_forward")


def leaf_paths(value, path="out"):
    """Names of the values of an output, in the order of autograder.course.mutants.leaves."""
    if mutants._is_leaf(value):
        return [path]
    if isinstance(value, (tuple, list)):
        return [p for k, item in enumerate(value) for p in leaf_paths(item, f"{path}[{k}]")]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaf_paths(item, f"{path}[{key!r}]")]
    return []


class Recorder:
    """Wraps the graded names of a namespace to record the calls the tests make (not the calls inside)."""

    def __init__(self, a, namespace):
        self.calls = {name: [] for name in a.graded}         # name -> [(method, args, kwargs, out, visible)]
        self.depth = 0
        self.visible = False
        for name in a.graded:
            original = namespace[name]
            namespace[name] = self._class(name, original) if name in a.classes else self._function(name, original)

    def _record(self, name, method, fn, args, kwargs):
        self.depth += 1
        try:
            out = fn(*args, **kwargs)
        finally:
            self.depth -= 1
        if self.depth == 0:
            self.calls[name].append((method, copy.deepcopy(args), copy.deepcopy(kwargs), copy.deepcopy(out), self.visible))
        return out

    def _function(self, name, fn):
        def recorded(*args, **kwargs):
            return self._record(name, None, fn, args, kwargs)
        recorded.__name__ = name
        return recorded

    def _class(self, name, cls):
        recorder = self

        def method(m):
            def recorded(obj, *args, **kwargs):
                return recorder._record(name, m, lambda *a, **k: getattr(cls, m)(obj, *a, **k), args, kwargs)
            return recorded
        public = [m for m in vars(cls) if not m.startswith("_") and callable(getattr(cls, m))]
        return type(name, (cls,), {m: method(m) for m in public})


def record_calls(a, seed=PRESCREEN_SEEDS[0]):
    """{name: [(method, args, kwargs, out, visible)]} of the calls every test makes to the reference."""
    namespace = reference_namespace(a)
    recorder = Recorder(a, namespace)
    for test, source in a.tests.items():
        recorder.visible = True
        run_cell(namespace, test, HIDDEN.sub("", source))            # the student's version of the cell
        recorder.visible = False
        run_cell(namespace, test, source, seed)
    return recorder.calls


def lookup_table(a, name, calls):
    """The pack()ed table of the `lookup` mutant: the visible tests' calls and the values they got."""
    def plain(args):
        return [mutants.WILDCARD if isinstance(v, (testing.Callback, testing.CallbackObject)) else v for v in args]
    if name in a.classes:
        tables = {}
        for method, args, kwargs, out, visible in calls:
            if visible:
                tables.setdefault(method, []).append(([mutants.WILDCARD] + plain(args), kwargs, out))
        return json.dumps({m: mutants.pack(rows) for m, rows in tables.items()}) if tables else ""
    rows = [(plain(args), kwargs, mutants.split_cache(out, is_forward(name))[0])
            for _, args, kwargs, out, visible in calls if visible]
    return mutants.pack(rows) if rows else ""


def axis_sites(source):
    """The calls with an axis= keyword in a definition, in order: [(index, what is called)]."""
    sites = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and any(k.arg == "axis" for k in node.keywords):
            func = node.func
            sites.append(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "?"))
    return sites


def candidates(a, name, calls, namespace):
    """The wrong implementations of one graded name, in the order they fill the catch submissions."""
    import inspect
    outs = [out for method, _, _, out, _ in calls if method in (None, "step")] or [out for *_, out, _ in calls]
    paths = leaf_paths(mutants.split_cache(outs[0], is_forward(name))[0]) if outs else ["out"]
    found = [Mutant(name, kind, label=kind) for kind in mutants.OUTPUT_KINDS
             if kind != "lookup" or any(visible for *_, visible in calls)]
    n = max(1, len(paths))
    leaf_targets = [(kind, k % n) for k, kind in enumerate(mutants.LEAF_KINDS)]
    found += [Mutant(name, kind, leaf=k, label=f"{kind} {paths[k] if k < len(paths) else 'out'}")
              for kind, k in leaf_targets]
    shift = list(a.graded).index(name) % len(found)     # functions side by side in a submission get other kinds,
    found = found[shift:] + found[:shift]               # so that two wrong answers rarely agree with each other
    found += [Mutant(name, "perturb", leaf=k, label=f"perturb {paths[k]}") for k in range(len(mutants.LEAF_KINDS), n)]
    if name not in a.classes:
        definition = _definition(a.solutions[a.graded[name]], name)
        for param in inspect.signature(namespace[name]).parameters.values():
            if "mask" in param.name or param.default is None:
                found.append(Mutant(name, "ignore", param=param.name, label=f"ignore {param.name}"))
        for site, what in enumerate(axis_sites(definition)[:MAX_AXIS_SITES]):
            found.append(Mutant(name, "axis", site=site, label=f"axis {site} ({what})"))
    return found


# --- mutant submissions -------------------------------------------------------------------------------------
class _Rename(ast.NodeTransformer):
    """Every graded name N becomes _audit_ref_N (its private copy); one axis= site may be moved."""

    def __init__(self, graded, site=-1):
        self.graded, self.site, self.seen = graded, site, -1

    def visit_Name(self, node):
        if node.id in self.graded:
            node.id = PREFIX + node.id
        return node

    def visit_FunctionDef(self, node):
        if node.name in self.graded:
            node.name = PREFIX + node.name
        self.generic_visit(node)
        return node

    visit_ClassDef = visit_FunctionDef

    def visit_Call(self, node):
        self.generic_visit(node)
        if any(k.arg == "axis" for k in node.keywords):
            self.seen += 1
            if self.seen == self.site:
                func = node.func
                if isinstance(func, ast.Attribute) and not (isinstance(func.value, ast.Name) and func.value.id in ("np", "numpy")):
                    array = func.value
                else:
                    array = node.args[0] if node.args else ast.Constant(None)
                for k in node.keywords:
                    if k.arg == "axis":
                        k.value = ast.Call(ast.Attribute(ast.Name("_audit_mutants", ast.Load()), "other_axis", ast.Load()),
                                           [k.value, array], [])
        return node


def private_copy(a, name, site=-1, new_name=None):
    """The reference definition of `name` as _audit_ref_<name> (or new_name), calling private copies."""
    tree = _Rename(set(a.graded), site).visit(ast.parse(_definition(a.solutions[a.graded[name]], name)))
    if new_name:
        tree.body[0].name = new_name
    return ast.unparse(ast.fix_missing_locations(tree))


def wrong_line(a, mutant, table=""):
    """The line that binds the graded name to its wrong implementation."""
    name = mutant.function
    args = [PREFIX + name, repr("code" if mutant.kind == "axis" else mutant.kind)]
    if mutant.kind in mutants.LEAF_KINDS:
        args.append(f"leaf={mutant.leaf}")
    if mutant.kind == "lookup" and table:
        args.append(f"table={table!r}")
    if mutant.kind == "ignore":
        args.append(f"param={mutant.param!r}")
    if name in a.classes:
        return f"{name} = _audit_mutants.wrong_class({', '.join(args)}, name={name!r})"
    if is_forward(name):
        args.append("forward=True")
    if mutant.kind == "axis":
        args.append(f"mutated=_audit_mut_{name}")
    return f"{name} = _audit_mutants.wrong({', '.join(args)})"


def mutant_cells(a, chosen, tables, decoupled=True):
    """{solution grade_id: source} of a submission where each name of `chosen` ({name: Mutant}) is wrong.

    decoupled: every graded name becomes its private copy (the wrong ones wrapped), so that no
    function's own code meets another's wrong implementation; else only the chosen names change and
    the rest is the perfect student's code, which calls them (the cascade submissions)."""
    cells = {}
    for cell in graded_cells(a):
        names = [n for n, c in a.graded.items() if c == cell]
        if not decoupled and not any(n in chosen for n in names):
            continue
        lines = [a.solutions[cell], "", "# --- the audit's change to this cell (_audit_mutants: see mutants_cell) ---"]
        needed = set(names) if decoupled else set(names).union(*(a.calls[n] for n in names))
        for name in sorted(needed, key=list(a.graded).index):   # private copies call private copies
            lines.append(private_copy(a, name))
        for name in names:
            mutant = chosen.get(name)
            if mutant is None:
                if decoupled:
                    lines.append(f"{name} = _audit_mutants.renamed_class({PREFIX + name}, {name!r})" if name in a.classes
                                 else f"{name} = {PREFIX + name}")
                continue
            if mutant.kind == "axis":
                lines.append(private_copy(a, name, mutant.site, new_name=f"_audit_mut_{name}"))
            lines.append(wrong_line(a, mutant, tables.get(name, "")))
        cells[cell] = "\n".join(lines) + "\n"
    return cells


FAST_CLOCK = """# The audit's submissions are there for the test cells, not for the notebook's timed training runs:
# their clock runs a million times faster, so that a loop of the form `while elapsed < seconds` stops at once.
import time as _audit_time
_audit_clock = _audit_time.perf_counter
_audit_time.perf_counter = lambda: 1e6 * _audit_clock()
"""


def mutants_cell():
    """A cell that defines `_audit_mutants`, autograder.course.mutants made from its source in the student's
    kernel: the sandbox mounts no grader code but kernel/ and testing.py, and a student's code may not import
    or exec anything of the grader's. The module's code runs inside a function, so that the notebook's own
    names cannot replace the ones it uses."""
    body = textwrap.indent(Path(mutants.__file__).read_text(), "    ")
    public = sorted(n.name for n in ast.parse(Path(mutants.__file__).read_text()).body
                    if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_"))
    names = ", ".join(f"{n}={n}" for n in public)
    return (f"# The audit's wrong implementations (autograder/course/mutants.py)\ndef _audit_mutants_module():\n{body}\n"
            f"    import types\n    return types.SimpleNamespace({names})\n\n\n_audit_mutants = _audit_mutants_module()\n")


def submission_notebook(a, cells, fast_clock=True):
    """The perfect submission (the student version filled with the reference answers), some cells replaced,
    and (fast_clock) a cell of the student's own after the setup cell that makes timed loops stop at once.
    A submission with wrong implementations gets the cell that defines them (`mutants_cell`) there too."""
    import nbformat
    from ..intake.restore import SETUP, grade_id
    from . import samples
    nb = samples.filled(a.id, course=a.course)
    for cell in nb.cells:
        if grade_id(cell) in cells:
            cell.source = cells[grade_id(cell)]
    at = next(k for k, cell in enumerate(nb.cells) if grade_id(cell) == SETUP) + 1
    if cells:
        nb.cells.insert(at, nbformat.v4.new_code_cell(mutants_cell(), id="audit-mutants"))
    if fast_clock:
        nb.cells.insert(at, nbformat.v4.new_code_cell(FAST_CLOCK, id="audit-fast-clock"))
    return nb


# --- the in-process pre-screen: which wrong implementations answer differently on the tests' inputs --------
@dataclass
class Screen:
    """What the in-process run of a catch submission showed."""
    differs: dict                          # name -> the leaves (paths) its wrong answers changed on some call
    raises: dict                           # name -> its wrong implementation raised on some call
    predicted: dict                        # test -> [fraction per seed], with only its own function wrong


def prescreen(a, chosen, tables, seeds=PRESCREEN_SEEDS):
    """Run a catch submission's tests in this process. Each test sees only its own function's wrong
    implementation (its verdict is what the audit predicts); every call of every function is watched,
    to see whether the wrong implementation answers differently from the reference, and where."""
    screen = Screen({n: set() for n in chosen}, {n: False for n in chosen}, {t: [] for t in a.tests})
    active = [None]

    def observe(name, right, got, raised):
        if name not in chosen:
            return "right"
        if raised:
            screen.raises[name] = True
        else:
            screen.differs[name] |= changed_leaves(name, right, got)
        return "wrong" if name == active[0] else "right"

    cells = mutant_cells(a, chosen, tables)
    mutants.OBSERVER = observe
    try:
        for seed in seeds:
            namespace = reference_namespace(a, cells)
            for test, source in a.tests.items():
                active[0] = a.target[test]
                screen.predicted[test].append(run_cell(namespace, test, source, seed).fraction)
    finally:
        mutants.OBSERVER = None
    return screen


def changed_leaves(name, right, got):
    """The paths of the values of `got` that differ from `right` (outputs only, never a forward's cache)."""
    right = mutants.split_cache(right, is_forward(name))[0]
    got = mutants.split_cache(got, is_forward(name))[0]
    paths, mine, theirs = leaf_paths(right), mutants.leaves(got), mutants.leaves(right)
    if len(mine) != len(theirs) or not _same_structure(right, got):
        return {"out"}
    return {path for path, x, y in zip(paths, mine, theirs) if not _same(x, y)}


def _same_structure(x, y):
    if mutants._is_leaf(x) or mutants._is_leaf(y):
        return mutants._is_leaf(x) and mutants._is_leaf(y)
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)):
        return len(x) == len(y) and all(_same_structure(i, j) for i, j in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return list(x) == list(y) and all(_same_structure(x[k], y[k]) for k in x)
    return True


def _same(x, y):
    if mutants._is_leaf(x) or mutants._is_leaf(y):
        try:
            return np.shape(x) == np.shape(y) and np.array_equal(np.asarray(x), np.asarray(y),
                                                                 equal_nan=np.asarray(x).dtype.kind == "f")
        except (TypeError, ValueError):
            return False
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)):
        return type(x) is type(y) and len(x) == len(y) and all(_same(i, j) for i, j in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return list(x) == list(y) and all(_same(x[k], y[k]) for k in x)
    return type(x) is type(y) and x == y


# --- the plan: catch and cascade submissions of one assignment ----------------------------------------------
@dataclass
class Plan:
    assignment: Assignment
    tables: dict                           # name -> lookup table
    catch: list                            # [{name: Mutant}] one per catch submission
    predicted: list                        # [{test: [in-process fraction per seed]}] of each catch submission
    equivalent: dict                       # name -> [labels of wrong implementations that never answered differently]
    raising: dict                          # name -> [labels of wrong implementations that raise (any test fails them)]
    cascade: list                          # [[names]] changed in each cascade submission
    seconds: float = 0.0


def plan(a):
    """Record the tests' calls, make the wrong implementations, drop those the tests' inputs cannot tell
    from the reference (in this process), and group the rest into submissions."""
    started = time.perf_counter()
    calls = record_calls(a)
    tables = {name: lookup_table(a, name, calls[name]) for name in a.graded}
    namespace = reference_namespace(a)
    pending = {name: candidates(a, name, calls[name], namespace) for name in a.graded}
    catch, predicted, equivalent = [], [], {name: [] for name in a.graded}
    raising = {name: [] for name in a.graded}
    while any(pending.values()):
        chosen = {name: mutants_left.pop(0) for name, mutants_left in pending.items() if mutants_left}
        screen = prescreen(a, chosen, tables)
        for name in list(chosen):
            if screen.raises[name]:
                raising[name].append(chosen.pop(name).label)
            elif not screen.differs[name]:
                equivalent[name].append(chosen.pop(name).label)
            else:
                chosen[name].changes = sorted(screen.differs[name])
        for test in a.tests:                       # a dropped one is the reference in the submission: no prediction
            if a.target[test] not in chosen:
                screen.predicted[test] = []
        if chosen:
            catch.append(chosen)
            predicted.append(screen.predicted)
    return Plan(a, tables, catch, predicted, equivalent, raising, cascade_groups(a), time.perf_counter() - started)


def cascade_groups(a):
    """Groups of graded names that other tests rely on, each group changed in one cascade submission:
    no test relies on two of a group, and no name of a group relies on another."""
    dependents = {name: {t for t in a.tests if name in a.depends(t)} for name in a.graded}
    groups = []
    for name in sorted(n for n in a.graded if dependents[n]):
        def fits(group):
            return all(not (dependents[name] & dependents[other]) and name not in a.calls[other]
                       and other not in a.calls[name] and not set(a.tests_of(name)) & dependents[other]
                       and not set(a.tests_of(other)) & dependents[name] for other in group)
        group = next((g for g in groups if fits(g)), None)
        if group is None:
            groups.append([name])
        else:
            group.append(name)
    return groups


def submissions(p):
    """{student id: notebook} of every submission of a plan: the perfect one, the catch ones, the cascade ones."""
    a = p.assignment
    found = {f"{a.id}-perfect": submission_notebook(a, {}, fast_clock=False)}
    for k, chosen in enumerate(p.catch):
        found[f"{a.id}-catch-{k:02d}"] = submission_notebook(a, mutant_cells(a, chosen, p.tables))
    for k, group in enumerate(p.cascade):
        chosen = {name: Mutant(name, "shift", label="shift") for name in group}
        found[f"{a.id}-cascade-{k:02d}"] = submission_notebook(a, mutant_cells(a, chosen, p.tables, decoupled=False))
    return found


# --- grading them, and reading what the grader said ---------------------------------------------------------
def grade_submissions(notebooks, out, jobs=2, timeout=20, course=None):
    """Grade {(student, assignment): notebook} in one run of the real grader; (grades, messages, seconds)."""
    import nbformat
    from ..pipeline.grade import Settings, grade
    folder = Path(out) / "submissions"
    shutil.rmtree(folder, ignore_errors=True)
    for (student, assignment), nb in notebooks.items():
        path = folder / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
    started = time.perf_counter()
    grade(folder, Settings(out=Path(out) / "graded", jobs=jobs, timeout=timeout, progress=False, allow_unsandboxed=True,
                          statistics=False, course=course or Course.here()))
    seconds = time.perf_counter() - started
    grades, messages = read_grades(Path(out) / "graded"), {}
    for student, assignment in notebooks:
        page = Path(out) / "graded" / "feedback" / student / assignment / f"{assignment}.html"
        messages[student] = feedback_messages(page.read_text()) if page.exists() else {}
    return grades, messages, seconds


def read_grades(out):
    """{student: {test: score}} from grades/<assignment>.csv (a column per graded cell after the totals)."""
    import csv
    from ..pipeline.gradebook import BASE_COLUMNS
    found = {}
    for path in sorted((Path(out) / "grades").glob("*.csv")):
        with open(path) as f:
            for row in csv.DictReader(f):
                found.setdefault(row["student_id"], {}).update(
                    {k: float(v) for k, v in row.items() if k not in BASE_COLUMNS and v != ""})
    return found


def feedback_messages(page):
    """{test grade_id: the text of its outputs} from an nbgrader feedback page."""
    found = {}
    anchors = list(re.finditer(r'<a name="([^"]+)"></a>', page))
    for k, anchor in enumerate(anchors):
        end = anchors[k + 1].start() if k + 1 < len(anchors) else len(page)
        section = page[anchor.end():end]
        section = section.split('<div class="cell ', 1)[0]          # this cell only, not the cells after it
        texts = re.findall(r'<div class="output_subarea[^"]*output_(?:error|stream|text)[^"]*">\s*<pre>(.*?)</pre>', section, re.DOTALL)
        found[anchor.group(1)] = html.unescape(re.sub(r"<[^>]+>", "", "\n".join(texts))).strip()
    return found


# --- verdicts --------------------------------------------------------------------------------------------------
def load_exceptions(path=EXCEPTIONS):
    """The accepted holes: [{test: "<assignment>/<test>", mutant: label pattern | outputs: [path patterns],
    reason}]. `mutant` accepts the wrong implementations whose label matches (* is a wildcard); `outputs` those
    that change only outputs the test does not grade (e.g. "out[1]*": a sibling test grades them)."""
    if not Path(path).exists():
        return []
    entries = tomllib.loads(Path(path).read_text()).get("exception", [])
    for entry in entries:
        if ("test" not in entry or ("mutant" in entry) == ("outputs" in entry) or not str(entry.get("reason", "")).strip()):
            raise ValueError(f"{path}: every [[exception]] needs a test, either mutant or outputs, and a reason; got {entry}")
    return entries


def _matches(text, pattern):
    """Does `text` match `pattern`, in which only * is special (labels and paths contain brackets)?"""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), text) is not None


def _excepted(exceptions, assignment, test, mutant):
    """The reason why this test may pass this wrong implementation, or None."""
    for entry in exceptions:
        if entry["test"] != f"{assignment}/{test}":
            continue
        if "mutant" in entry:
            accepted = _matches(mutant.label, entry["mutant"])
        else:
            accepted = bool(mutant.changes) and all(any(_matches(path, pattern) for pattern in entry["outputs"])
                                                    for path in mutant.changes)
        if accepted:
            entry["used"] = True
            return entry["reason"]
    return None


def blamed(a, changed):
    """The graded names a failing test may name as the culprit: the changed ones and those that use them."""
    return set(changed) | {name for name in a.graded if a.calls[name] & set(changed)}


def names_culprit(message, culprits):
    """Does a failure message say that one of these functions is wrong (autograder.testing.used_wrong)?"""
    return any(f"your {name} is wrong" in message for name in culprits)


def unclear(p, grades):
    """[(k, name)]: catch submissions where the grader and the in-process run (with only the test's own function
    wrong) disagree on a test: another function's wrong implementation may have failed it, or hidden the wrong
    one (when the test accepts answers consistent with the student's other functions). They are graded again alone."""
    a = p.assignment
    found = set()
    for k, chosen in enumerate(p.catch):
        for test in a.tests:
            name, predicted = a.target[test], p.predicted[k][test]
            score = grades.get(f"{a.id}-catch-{k:02d}", {}).get(test)
            if name not in chosen or score is None or not predicted:
                continue
            if (score < a.points[test] and min(predicted) == 1.0) or (score == a.points[test] and max(predicted) < 1.0):
                found.add((k, name))
    return sorted(found)


def verdicts(p, grades, messages, exceptions, confirmed=None):
    """The audit of one assignment as a dict (the JSON report's entry). confirmed: {(k, name): student id of the
    submission that carries only that wrong implementation (see `unclear`)}."""
    a = p.assignment
    confirmed = confirmed or {}
    full = lambda student, test: grades.get(student, {}).get(test) == a.points[test]
    tests = {t: {"function": a.target[t], "points": a.points[t], "caught": [], "uncaught": [], "excepted": []}
             for t in a.tests}
    problems = []
    perfect = f"{a.id}-perfect"
    for test in a.tests:
        if not full(perfect, test):
            problems.append({"kind": "baseline", "test": test, "detail": f"the perfect submission got "
                             f"{grades.get(perfect, {}).get(test)} of {a.points[test]}: {messages.get(perfect, {}).get(test, '')[:500]}"})
    for k, chosen in enumerate(p.catch):
        student = f"{a.id}-catch-{k:02d}"
        for test in a.tests:
            mutant = chosen.get(a.target[test])
            score = grades.get(student, {}).get(test)
            if mutant is None:
                if not full(student, test):
                    problems.append({"kind": "cascade", "test": test, "submission": student, "detail":
                                     f"{a.target[test]} was right here, yet the test got {score} of {a.points[test]}: "
                                     f"{messages.get(student, {}).get(test, '')[:300]}"})
                continue
            alone = confirmed.get((k, mutant.function))
            if alone:                                     # graded again alone: that verdict counts
                score = grades.get(alone, {}).get(test)
            entry = {"mutant": mutant.label, "changes": mutant.changes, "score": score, "alone": bool(alone),
                     "message": messages.get(alone or student, {}).get(test, "")[:600], "predicted": p.predicted[k][test]}
            predicted = p.predicted[k][test]
            if predicted and min(predicted) < 1 and max(predicted) == 1 and not _excepted(exceptions, a.id, test, mutant):
                problems.append({"kind": "unreliable", "test": test, "detail": f"{test} fails {a.target[test]} changed by "
                                 f"{mutant.label} for some seeds only (in-process, seeds {list(PRESCREEN_SEEDS)}): "
                                 "the hidden tests must tell it from the reference whatever grading draws"})
            if score is not None and score < a.points[test]:
                tests[test]["caught"].append(entry)
                continue
            reason = _excepted(exceptions, a.id, test, mutant)
            if reason:
                tests[test]["excepted"].append({**entry, "reason": reason})
            else:
                tests[test]["uncaught"].append(entry)
                problems.append({"kind": "uncaught", "test": test, "detail": f"{test} gave {score} of {a.points[test]} "
                                 f"to {a.target[test]} changed by {mutant.label}"})
    cascades = []
    for k, group in enumerate(p.cascade):
        student = f"{a.id}-cascade-{k:02d}"
        culprits = blamed(a, group)
        lost = []
        for test in a.tests:
            if a.target[test] in group or full(student, test):
                continue
            message = messages.get(student, {}).get(test, "")
            says = names_culprit(message, culprits)
            lost.append({"test": test, "score": grades.get(student, {}).get(test), "points": a.points[test],
                         "says_so": says, "message": message[:600]})
            if not says:
                problems.append({"kind": "cascade", "test": test, "submission": student, "detail":
                                 f"{test} lost points when only {', '.join(group)} was wrong, without saying so: {message[:300]}"})
        own = sum(a.points[t] for t in a.tests if a.target[t] in group)
        cascades.append({"changed": group, "own_points": own, "lost": lost,
                         "lost_elsewhere": sum(x["points"] - (x["score"] or 0) for x in lost)})
    return {"tests": tests, "equivalent": p.equivalent, "raising": p.raising, "cascades": cascades, "problems": problems,
            "submissions": 1 + len(p.catch) + len(p.cascade),
            "mutants": sum(len(c) for c in p.catch), "plan_seconds": round(p.seconds, 1)}


def run(assignment_ids=None, out=None, jobs=2, timeout=20, exceptions_path=EXCEPTIONS, progress=print, course=None):
    """Audit the assignments (default: all) with one grading run; returns the report (see write_report)."""
    started = time.perf_counter()
    course = course or Course.here()
    ids = list(assignment_ids or course.assignment_ids)
    out = Path(out) if out else Path(tempfile.mkdtemp(prefix="audit-"))
    plans = {}
    for aid in ids:
        plans[aid] = plan(load(aid, course))
        progress(f"{aid}: {sum(len(c) for c in plans[aid].catch)} wrong implementations in {len(plans[aid].catch)} "
                 f"catch and {len(plans[aid].cascade)} cascade submissions ({plans[aid].seconds:.1f} s in process)")
    notebooks = {(student, aid): nb for aid, p in plans.items() for student, nb in submissions(p).items()}
    progress(f"grading {len(notebooks)} submissions with the real grader ({jobs} at a time)")
    grades, messages, grading_seconds = grade_submissions(notebooks, out, jobs=jobs, timeout=timeout, course=course)
    confirmed, again = {aid: {} for aid in ids}, {}
    for aid in ids:
        for k, name in unclear(plans[aid], grades):
            student = f"{aid}-alone-{k:02d}-{name.replace('_', '-')}"
            confirmed[aid][(k, name)] = student
            p = plans[aid]
            again[(student, aid)] = submission_notebook(p.assignment, mutant_cells(p.assignment, {name: p.catch[k][name]}, p.tables))
    if again:
        progress(f"grading {len(again)} wrong implementations again, alone (another one may have failed their test)")
        more_grades, more_messages, seconds = grade_submissions(again, Path(out) / "alone", jobs=jobs, timeout=timeout,
                                                                   course=course)
        grades.update(more_grades)
        messages.update(more_messages)
        grading_seconds += seconds
    exceptions = load_exceptions(exceptions_path)
    report = {"assignments": {aid: verdicts(plans[aid], grades, messages, exceptions, confirmed[aid]) for aid in ids},
              "grading_seconds": round(grading_seconds, 1)}
    report["unused_exceptions"] = [{k: v for k, v in e.items() if k != "used"} for e in exceptions
                                   if not e.get("used") and e["test"].split("/")[0] in ids]
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["out"] = str(out)
    return report


def problems(report):
    """Everything that fails the audit: holes, cascades, a perfect submission losing points, stale exceptions."""
    found = [{**p, "assignment": aid} for aid, entry in report["assignments"].items() for p in entry["problems"]]
    found += [{"kind": "unused-exception", "test": e["test"], "detail": "no test passes "
               f"{e['mutant'] if 'mutant' in e else 'a change of ' + ', '.join(e['outputs'])} any more: remove the exception"}
              for e in report["unused_exceptions"]]
    return found


# --- the report --------------------------------------------------------------------------------------------------
def write_report(report, folder):
    """audit.json (everything) and audit.md (tables) in `folder`; returns the Markdown."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audit.json").write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str))
    text = markdown(report)
    (folder / "audit.md").write_text(text)
    return text


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(report):
    """The report as Markdown: per assignment a table of tests, the holes, the cascade check."""
    found = problems(report)
    lines = ["# Test audit", "",
             f"{sum(e['mutants'] for e in report['assignments'].values())} wrong implementations in "
             f"{sum(e['submissions'] for e in report['assignments'].values())} submissions, graded by the real grader in "
             f"{report['grading_seconds']} s ({report['seconds']} s in all). "
             + ("No problems." if not found else f"**{len(found)} problem(s)** (listed at the end)."), ""]
    for aid, entry in report["assignments"].items():
        lines += [f"## {aid}", "", "| test | grades | points | wrong implementations | caught | not caught (excepted) |",
                  "|---|---|---|---|---|---|"]
        for test, row in entry["tests"].items():
            total = len(row["caught"]) + len(row["uncaught"]) + len(row["excepted"])
            missed = ", ".join([u["mutant"] for u in row["uncaught"]] + [f"({x['mutant']})" for x in row["excepted"]])
            lines.append(f"| `{test}` | `{row['function']}` | {row['points']:g} | {total} | {len(row['caught'])} | {_cell(missed)} |")
        skipped = {n: v for n, v in entry["equivalent"].items() if v}
        raising = {n: v for n, v in entry["raising"].items() if v}
        if skipped:
            lines += ["", "Not graded, as they answered like the reference on every input of the tests: "
                      + "; ".join(f"`{n}`: {', '.join(v)}" for n, v in skipped.items()) + "."]
        if raising:
            lines += ["", "Not graded, as they raise (any test that calls them fails): "
                      + "; ".join(f"`{n}`: {', '.join(v)}" for n, v in raising.items()) + "."]
        if entry["cascades"]:
            lines += ["", "Cascade check: one function wrong in all its outputs, the rest the perfect student's code.", "",
                      "| wrong | its own points | other tests that lost points | says so |", "|---|---|---|---|"]
            for c in entry["cascades"]:
                others = ", ".join(f"`{x['test']}` ({x['points'] - (x['score'] or 0):g})" for x in c["lost"]) or "none"
                says = "—" if not c["lost"] else ("yes" if all(x["says_so"] for x in c["lost"]) else "**no**")
                lines.append(f"| {', '.join(f'`{n}`' for n in c['changed'])} | {c['own_points']:g} | {others} | {says} |")
        excepted = [(t, x) for t, row in entry["tests"].items() for x in row["excepted"]]
        if excepted:
            lines += ["", "Accepted (autograder/course/audit_exceptions.toml):", ""]
            lines += [f"- `{t}` passes {x['mutant']}: {x['reason']}" for t, x in excepted]
        lines.append("")
    if found:
        lines += ["## Problems", ""]
        lines += [f"- {p['kind']}: {p.get('assignment', '')} `{p['test']}`: {_cell(p['detail'])}" for p in found]
    return "\n".join(lines) + "\n"
