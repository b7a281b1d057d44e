"""nbgrader's own Autograde (`nbgrader autograde`, Formgrader's button) grades through the judge, in the sandbox.

A course folder in nbgrader's layout is configured as the hub's instructor's is (deploy/jupyterhub/hubsetup.py
writes its nbgrader_config.py): the sample submissions of a1 are collected into submitted/ and graded by
nbgrader's command; the gradebook must hold exactly what each sample must score (autograder/course/samples.py).
A sample that fools plain nbgrader (calls_reference) is graded right through the hook, and wrong by plain
nbgrader on the same folder. Without a complete sandbox, Formgrader's API refuses and says what to install.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from traitlets.config import Configurable
from traitlets.config.loader import PyFileConfigLoader

from autograder import course
from autograder.course import Course
from autograder.course.samples import HONEST, HOSTILE, honest_samples, hostile_samples
from autograder.judge import sandbox
from autograder.pipeline import formgrade
from autograder.records import Grade, Result
import attack_notebooks as attacks
from grading_helpers import active_content, require_sandbox

COURSE = Course.here()
A1 = "a1_neuron"
BIN = Path(sys.executable).parent                     # nbgrader runs `alembic` from PATH: this bin/ first
HONEST_SAMPLES = honest_samples()
# The attacks nbgrader's own flow must survive: one fools plain nbgrader, one forges any gradebook it finds,
# one ends its kernel, one ignores the interrupt (its kernel is stopped and the cells after it are not run).
HOSTILE_SAMPLES = {name: sample for name, sample in hostile_samples().items()
                   if name in ("calls_reference", "gradebook_attack", "exits", "ignores_interrupt")}
# nbgrader's Autograde cannot grade these two, whatever grades its notebooks: it skips a notebook under another
# name before any conversion ("No notebooks found"), and the judge cannot read a malformed one. Both score 0
# and the autograde reports an error for each (`python -m autograder grade` matches the renamed notebook).
NOT_GRADED = {"wrong_notebook_name", "malformed_json"}
SAMPLES = {**HONEST_SAMPLES, **HOSTILE_SAMPLES}


def load_hubsetup():
    spec = importlib.util.spec_from_file_location("hubsetup", course.REPO / "deploy" / "jupyterhub" / "hubsetup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nbgrader(command, cwd, check=True):
    """An nbgrader command in the course folder, with this environment's bin/ first on PATH; returns its run."""
    env = {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([str(BIN / "nbgrader"), *command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert not check or done.returncode == 0, f"nbgrader {' '.join(command)}:\n{(done.stdout + done.stderr)[-4000:]}"
    return done


def course_folder(root, students):
    """A course folder like the hub's: source/ and release/ of a1, the hub instructor's nbgrader_config.py, the
    assignment generated into the gradebook, and the given samples in submitted/."""
    shutil.copytree(COURSE.solutions / A1, root / "source" / A1)
    shutil.copytree(COURSE.assignments / A1, root / "release" / A1)
    config = load_hubsetup().instructor_nbgrader_config(course.COURSE_ID, root / "exchange", root)
    (root / "nbgrader_config.py").write_text(config + "c.GradeInSandbox.timeout = 10\n")
    nbgrader(["generate_assignment", A1, "--force"], root)
    for student in students:
        origin = HONEST if student in HONEST_SAMPLES else HOSTILE
        shutil.copytree(origin / student / A1, root / "submitted" / student / A1)
    return root


def recorded(root, student):
    """{grade_id: score} in the course's gradebook for the student's a1 (None where nothing was recorded)."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course.COURSE_ID) as gb:
        notebook = gb.find_submission_notebook(A1, A1, student)
        return {g.name: (None if g.auto_score is None and g.manual_score is None else float(g.score))
                for g in notebook.grades}


@pytest.fixture(scope="module")
def autograded(tmp_path_factory):
    """Every chosen sample of a1 autograded by `nbgrader autograde a1_neuron`, once: (course folder, its output)."""
    require_sandbox(tmp_path_factory.mktemp("probe"))
    root = course_folder(tmp_path_factory.mktemp("course"), sorted(SAMPLES))
    done = nbgrader(["autograde", A1], root, check=False)
    return root, done.returncode, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(set(SAMPLES) - NOT_GRADED))
def test_nbgrader_autograde_records_exactly_what_each_sample_must_score(autograded, student):
    """Does nbgrader's own autograde put into the course's gradebook exactly the score each test cell of the sample
    must get, and log the problems the grader must find?"""
    root, _, output = autograded
    expected = SAMPLES[student].expected_scores(A1)
    assert recorded(root, student) == expected, output[-3000:]
    logged = {line.split(": ")[1] for line in output.splitlines() if f"WARNING] {student}/{A1}: " in line}
    assert set(SAMPLES[student].problems) <= logged, (student, logged)
    graded = nbformat.read(str(root / "autograded" / student / A1 / f"{A1}.ipynb"), as_version=4)
    assert graded.metadata.kernelspec.name == "python3"          # the source's, not the sandbox's


@pytest.mark.slow
def test_what_nbgrader_cannot_grade_is_an_error_that_names_it_and_scores_nothing(autograded):
    """Do the renamed and the malformed notebook each give an autograde error naming them, with no points, while
    everybody else is graded (the command exits 1, as nbgrader does after any submission's error)?"""
    root, returncode, output = autograded
    assert returncode == 1
    assert "malformed_json/a1_neuron/a1_neuron.ipynb could not be graded: malformed-notebook" in output
    assert "There was an error processing assignment 'a1_neuron' for student 'malformed_json'" in output
    assert "There was an error processing assignment 'a1_neuron' for student 'wrong_notebook_name'" in output
    errors = {line for line in output.splitlines() if "There was an error processing assignment 'a1_neuron'" in line}
    assert len(errors) == len(NOT_GRADED), errors
    for student in NOT_GRADED:
        assert set(recorded(root, student).values()) == {None}
        assert not (root / "autograded" / student / A1 / f"{A1}.ipynb").exists()


@pytest.mark.slow
def test_the_gradebook_survives_an_attack_on_it(autograded):
    """The sample that rewrites every gradebook it can find: is the course's gradebook sound and unforged?"""
    root, _, _ = autograded
    import sqlite3
    db = sqlite3.connect(root / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT count(*) FROM grade WHERE auto_score > 100").fetchone()[0] == 0


@pytest.mark.slow
def test_a_sample_that_fools_plain_nbgrader_is_graded_right_through_the_hook(autograded, tmp_path):
    """calls_reference calls the rnncore reference from three functions: plain nbgrader (the same course folder with
    nbconvert's own exporter) gives it points it must not get; through the hook it gets exactly its score."""
    root, _, _ = autograded
    expected = SAMPLES["calls_reference"].expected_scores(A1)
    assert recorded(root, "calls_reference") == expected
    plain = tmp_path / "plain"
    shutil.copytree(root, plain, ignore=shutil.ignore_patterns("autograded"))
    (plain / "nbgrader_config.py").write_text((plain / "nbgrader_config.py").read_text().replace(str(root), str(plain)))
    nbgrader(["autograde", A1, "--student", "calls_reference", "--force",
              "--Autograde.exporter_class=nbconvert.exporters.NotebookExporter"], plain)
    fooled = recorded(plain, "calls_reference")
    assert sum(fooled.values()) > sum(expected.values())
    assert [g for g in expected if fooled[g] > expected[g]], fooled


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """The perfect a1 and the html_injection attack (tests/grader/attack_notebooks.py: scripts, event handlers and
    javascript: URLs in markdown, raw cells, every kind of output and errors) autograded through the hook."""
    require_sandbox(tmp_path_factory.mktemp("probe"))
    root = course_folder(tmp_path_factory.mktemp("injected"), ["perfect"])
    path = root / "submitted" / "html_injection" / A1 / f"{A1}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(nbformat.writes(attacks.html_injection(), version=4))
    nbgrader(["autograde", A1], root, check=False)
    return root


def manual_grading_page(root, student):
    """The page of a student's autograded a1 in Formgrader's Manual Grading: nbgrader's formgrade template, with
    the HTMLExporter settings nbgrader's FormgradeExtension gives it."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"base_url": "/", "notebook_id": A1, "assignment_id": A1, "submission_id": "s", "index": 0,
                 "total": 1, "notebook_path": A1, "mathjax_url": "", "student": "s", "first_name": "f",
                 "last_name": "l", "score": 0, "max_score": 100}        # the same for every page: only cells differ
    page, _ = HTMLExporter(config=config).from_filename(str(root / "autograded" / student / A1 / f"{A1}.ipynb"),
                                                        resources=resources)
    return page


@pytest.mark.slow
def test_manual_grading_shows_an_attackers_notebook_without_running_anything(injected):
    """Formgrader's Manual Grading renders the graded notebook in the instructor's browser: does the page of the
    html_injection attack hold no script or event handler beyond the template's, no javascript: URL, no frame?"""
    assert (injected / "autograded" / "html_injection" / A1 / f"{A1}.ipynb").exists(), "the attack was not graded"
    template = active_content(manual_grading_page(injected, "perfect"))
    page = active_content(manual_grading_page(injected, "html_injection"))
    assert page.scripts == template.scripts, [s[:200] for s in page.scripts if s not in template.scripts]
    assert page.handlers == template.handlers, [h for h in page.handlers if h not in template.handlers]
    assert page.urls == [] and page.frames == []


def test_formgraders_autograde_refuses_without_the_sandbox_and_says_what_to_install(tmp_path, monkeypatch):
    """Formgrader's Autograde button calls NbGraderAPI.autograde: without bubblewrap, does it fail with a message
    that names what to install and how to accept the risk, grading nothing (never plain Execute)?"""
    root = tmp_path / "course"
    shutil.copytree(COURSE.assignments / A1, root / "release" / A1)
    shutil.copytree(COURSE.solutions / A1, root / "source" / A1)
    shutil.copytree(HONEST / "perfect" / A1, root / "submitted" / "perfect" / A1)
    (root / "nbgrader_config.py").write_text(
        load_hubsetup().instructor_nbgrader_config(course.COURSE_ID, tmp_path / "exchange", root))
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    missing = "bubblewrap (bwrap) is not installed: no isolation at all (Debian/Ubuntu: apt-get install bubblewrap)"
    monkeypatch.setattr(sandbox, "probe", lambda scratch, mode=None: sandbox.Probe(missing=[missing]))
    monkeypatch.setattr(formgrade, "_graders", {})
    result = course.api(config).autograde(A1, "perfect")
    assert not result["success"]
    assert "REFUSING TO AUTOGRADE" in result["log"] and "apt-get install bubblewrap" in result["log"]
    assert "c.GradeInSandbox.allow_unsandboxed = True" in result["log"]
    assert not (root / "autograded").exists()


class _Verdicts(Configurable):
    """A stand-in for the exporter: the judge's scores of one notebook."""

    def verdicts(self, info):
        return {"test_relu": 3.0}


@pytest.mark.parametrize("output, agrees", [
    (new_output("stream", name="stdout", text="✔ тест пройден\n"), True),
    (new_output("error", ename="AssertionError", evalue="wrong", traceback=[]), False),
])
def test_match_verdicts_stops_an_autograde_whose_outputs_disagree_with_the_judge(output, agrees):
    """In Execute's place: does MatchVerdicts pass a graded cell whose outputs give the judge's 3 points, and stop
    the autograde (before SaveAutoGrades) when they would give another score?"""
    cell = new_code_cell("check()", metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "test_relu",
                                                           "points": 3, "locked": True}}, outputs=[output])
    nb = new_notebook(cells=[cell])
    resources = {"nbgrader": {"student": "s", "assignment": A1, "notebook": A1}}
    check = formgrade.MatchVerdicts(parent=_Verdicts())
    if agrees:
        assert check.preprocess(nb, resources)[0] is nb
    else:
        with pytest.raises(formgrade.GradingFailed, match="nbgrader would record 0 for test_relu, the judge gave 3.0"):
            check.preprocess(nb, resources)


def test_a_result_carries_graded_notebooks_only_when_asked_and_checked():
    """Does a Result of `grade` read and write as before (no graded field), and is a graded notebook that is not
    text refused like any other malformed field of a worker's result?"""
    plain = Result("s", A1, "k", grades=[Grade(A1, "test_relu", 3.0, 3.0)])
    assert "graded" not in json.loads(plain.to_json())
    with_graded = Result("s", A1, "k", graded={A1: '{"cells": []}'})
    assert Result.from_json(with_graded.to_json()).graded == {A1: '{"cells": []}'}
    for bad in ({A1: {"cells": []}}, [A1]):
        text = json.dumps({**json.loads(with_graded.to_json()), "graded": bad})
        with pytest.raises(ValueError):
            Result.from_json(text)
