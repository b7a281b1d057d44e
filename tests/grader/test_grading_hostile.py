"""Hostile submissions: each attack must fail, cost only its author, and leave every other grade intact.

The samples are in autograder/samples/hostile/ (made by autograder/course/samples.py, where
each one's expected grades are written down). They are graded together with an honest bystander.
"""
import hashlib
import shutil
import sqlite3

import pytest

from autograder import course
from autograder.course.samples import HONEST, HOSTILE, Sample, hostile_samples
from grading_helpers import (assert_sample_graded_as_specified, feedback_text, grades_by_submission, require_sandbox,
                     run_grading)
from autograder.course import Course

COURSE = Course.here()

pytestmark = pytest.mark.slow
SAMPLES = hostile_samples()
GUARDED = [COURSE.solutions, COURSE.assignments, course.REPO / "rnncore", course.REPO / "autograder"]


def _tree_hash(folders):
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The hostile samples and one honest bystander, graded in one sandboxed run."""
    require_sandbox(tmp_path_factory.mktemp("probe"))
    submissions = tmp_path_factory.mktemp("hostile")
    shutil.copytree(HOSTILE, submissions, dirs_exist_ok=True)
    shutil.copytree(HONEST / "perfect" / "a1_neuron", submissions / "bystander" / "a1_neuron")
    out = tmp_path_factory.mktemp("graded")
    before = _tree_hash(GUARDED)
    summary = run_grading(submissions, out, jobs=2, timeout=25)
    return out, summary, before


@pytest.mark.parametrize("student", sorted(SAMPLES))
def test_attack_costs_its_author_exactly_what_was_expected(graded, student):
    """Is each hostile submission graded (not dropped) with exactly its expected scores and problems?"""
    out, _, _ = graded
    assert_sample_graded_as_specified(out, student, SAMPLES[student])


def test_the_honest_bystander_is_unaffected(graded):
    """Does the honest submission graded beside the attacks still get full marks and no problems?"""
    out, summary, _ = graded
    assert_sample_graded_as_specified(out, "bystander", Sample({"a1_neuron": None}))
    entry = [s for s in summary["submissions"] if s["student"] == "bystander"]
    assert entry == [{"student": "bystander", "assignment": "a1_neuron", "score": 100.0, "max_score": 100.0,
                      "problems": []}]


def test_every_submission_is_in_grades_csv_and_report(graded):
    """Does the run end with a complete grades.csv and report.json despite the attacks?"""
    out, summary, _ = graded
    students = set(SAMPLES) | {"bystander"}
    assert {s for s, _ in grades_by_submission(out)} == students
    assert {s["student"] for s in summary["submissions"]} == students


def test_course_files_and_gradebook_survive(graded):
    """Are solutions, assignments and the packages byte-identical, and is the gradebook sound and unforged?"""
    out, _, before = graded
    assert _tree_hash(GUARDED) == before
    db = sqlite3.connect(out / "gradebook.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    forged = db.execute("SELECT count(*) FROM grade WHERE auto_score > 100").fetchone()[0]
    assert forged == 0


def test_hidden_files_were_invisible_from_inside(graded):
    """Did the submission that looked for solutions, samples and git objects find none of them?"""
    out, _, _ = graded
    text = feedback_text(out, "read_solutions", "a1_neuron")
    for pattern in ("solutions/*/*.ipynb 0", "autograder/samples/*/*/*/*.ipynb 0", ".git/objects/*/* 0"):
        assert pattern in text
    assert "databases found: 0" in feedback_text(out, "gradebook_attack", "a1_neuron")
