"""The grader's layout follows its trust boundary, and nothing is read twice.

Rules, checked on the import statements of every module (ast, so an import inside a function counts):
- kernel/ (the only grader code the sandbox mounts, with testing.py) imports nothing of the grader but
  itself, and nothing but numpy and the standard library;
- intake/ and judge/ never import pipeline/;
- only pipeline/ writes the gradebook (nbgrader's Gradebook write methods, and commits, appear nowhere else);
- nothing imports a module through a string (importlib, __import__) except where the code it builds runs in
  another process (the kernel), from a module object.
And: grading one submission parses each of its notebooks once and restores it once.
"""
import ast
import base64
import sys
from pathlib import Path

import pytest

import autograder
from autograder.course import Course, build
from autograder.course.samples import HONEST
from autograder.intake import precheck, restore
from autograder.judge import sandbox, worker
from autograder.records import Job

PACKAGE = Path(autograder.__file__).resolve().parent
STDLIB = set(sys.stdlib_module_names)
GRADEBOOK_WRITES = {"update_or_create_student", "update_or_create_submission", "add_student", "add_assignment",
                    "remove_student", "remove_submission", "add_submission", "update_or_create_assignment"}


def modules(folder=""):
    return sorted((PACKAGE / folder).rglob("*.py"))


def imported(path):
    """Every module name a file imports (relative imports resolved against the package)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def test_the_layout_is_what_the_rules_speak_of():
    """Are the subpackages there, so that the rules below check something?"""
    for folder in ("kernel", "intake", "judge", "pipeline", "term", "course"):
        assert modules(folder), folder


@pytest.mark.parametrize("path", modules("kernel"), ids=lambda p: p.name)
def test_kernel_code_imports_only_numpy_the_standard_library_and_itself(path):
    """Could mounting kernel/ into the sandbox pull in any other code of the grader?"""
    for name in imported(path):
        root = name.split(".")[0]
        assert root in STDLIB or root == "numpy" or name.startswith("autograder.kernel"), (path.name, name)


@pytest.mark.parametrize("path", modules("intake") + modules("judge"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_intake_and_judge_never_import_the_pipeline(path):
    """Does code that decodes student data or runs in the worker stay below the pipeline?"""
    assert not [n for n in imported(path) if n.startswith("autograder.pipeline")], path


def test_testing_helpers_import_only_numpy_and_the_standard_library():
    """The sandbox mounts testing.py beside kernel/: does it pull in nothing else?"""
    for name in imported(PACKAGE / "testing.py"):
        assert name.split(".")[0] in STDLIB or name.split(".")[0] == "numpy", name


def test_the_sandbox_mounts_only_kernel_code_and_the_student_helpers():
    """Is what a kernel sees of the grader exactly autograder/__init__.py, testing.py and kernel/?"""
    seen = {Path(host).relative_to(PACKAGE).as_posix() for host in sandbox.kernel_side_files().values()}
    assert seen == {"__init__.py", "testing.py", "kernel"}


@pytest.mark.parametrize("path", [p for p in modules() if "pipeline" not in p.parts], ids=lambda p: p.name)
def test_only_the_pipeline_writes_the_gradebook(path):
    """Does any module outside pipeline/ call a Gradebook write method or commit a gradebook session?"""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in GRADEBOOK_WRITES:
            pytest.fail(f"{path.name}:{node.lineno} calls {node.attr}")
        if isinstance(node, ast.Attribute) and node.attr == "commit" and "db" in ast.unparse(node.value):
            pytest.fail(f"{path.name}:{node.lineno} commits a gradebook session")


def _docstrings(tree):
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


# The sample submissions are students' code (some of it hostile), held as data: not the grader's wiring.
WIRING = [p for p in modules() if p.name != "samples.py"]


@pytest.mark.parametrize("path", WIRING, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_module_is_imported_through_a_string(path):
    """Is every link between the grader's modules visible as an import statement (or built from a module object
    when the code runs in the kernel)?"""
    tree = ast.parse(path.read_text())
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("importlib.import_module", "__import__"):
            pytest.fail(f"{path.name}:{node.lineno} imports by a string")
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and ("import autograder" in node.value or "__import__('autograder" in node.value)):
            pytest.fail(f"{path.name}:{node.lineno} names a module of the grader in code held in a string")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")     # nbgrader's own, in a worker only printed
def test_grading_a_submission_parses_and_restores_each_notebook_once(tmp_path, monkeypatch):
    """Grading one submission (in this process, unconfined): is each submitted notebook parsed once and restored
    once, from intake to feedback?"""
    counts = {"parse": 0, "restore": 0}
    real_parse, real_restore = precheck.parse_notebook, restore.restore

    def parse(data):
        counts["parse"] += 1
        return real_parse(data)

    def restored(*args):
        counts["restore"] += 1
        return real_restore(*args)
    monkeypatch.setattr(precheck, "parse_notebook", parse)
    monkeypatch.setattr(restore, "restore", restored)
    course = Course.here()
    (tmp_path / "template").mkdir()
    build.generate(course, tmp_path / "template" / "release", f"sqlite:///{tmp_path / 'template.db'}", ["a1_neuron"])
    course_dir = course.files(tmp_path / "template.db").write(tmp_path / "course")
    data = (HONEST / "perfect" / "a1_neuron" / "a1_neuron.ipynb").read_bytes()
    job = Job("s", "a1_neuron", "k", {"a1_neuron.ipynb": base64.b64encode(data).decode(),
                                      "notes.ipynb": base64.b64encode(b"{}").decode()}, 20, 600, {})
    (tmp_path / "job").mkdir()
    result = worker.grade_one(job, tmp_path / "job", course_dir, kernel=None)
    assert sum(g.score for g in result.grades) == 100.0, [p.detail[:1500] for p in result.problems]
    assert counts == {"parse": 2, "restore": 1}, counts             # two files: two parses; one notebook restored
