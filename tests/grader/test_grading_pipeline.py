"""The instructor's pipeline end to end on the bundled honest samples (python -m autograder grade)."""
import base64
import dataclasses
import json
import re
import shutil
import subprocess
import sys

import pytest

from dataclasses import asdict

from autograder import course
from autograder.pipeline import executors
from autograder.pipeline import grade
from autograder.judge import sandbox
from autograder.records import Job
from autograder.course.samples import HONEST, honest_samples, graded_cells
from grading_helpers import (assert_sample_graded_as_specified, feedback_text, grades_by_submission, problem_kinds,
                     run_grading)
from autograder.course import Course

COURSE = Course.here()

pytestmark = pytest.mark.slow
SAMPLES = honest_samples()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """All honest samples graded once, two at a time, with a 15 s cell timeout."""
    out = tmp_path_factory.mktemp("graded")
    summary = run_grading(HONEST, out, jobs=2, timeout=15)
    return out, summary


@pytest.mark.parametrize("student", sorted(SAMPLES))
def test_each_sample_gets_exactly_the_grades_it_deserves(graded, student):
    """Does every test cell score what the sample's design says, with the expected problems reported?"""
    out, _ = graded
    assert_sample_graded_as_specified(out, student, SAMPLES[student])


def test_clean_submissions_report_no_problems(graded):
    """Are the perfect and the warning-emitting submissions free of reported problems (warnings cost nothing)?"""
    out, _ = graded
    for student in ("perfect", "warns", "partly_wrong", "untouched"):
        for assignment in SAMPLES[student].notebooks:
            assert problem_kinds(out, student, assignment) == set(), (student, assignment)


def test_outputs_are_complete(graded):
    """Is there a CSV row, a feedback page and a report entry for every submission, and a column per part
    in the assignment's own grades/<assignment>.csv (and only there)?"""
    out, summary = graded
    expected = {(s, a) for s, sample in SAMPLES.items() for a in sample.notebooks}
    rows = grades_by_submission(out)
    assert set(rows) == expected
    assert {(s["student"], s["assignment"]) for s in summary["submissions"]} == expected
    totals = ["student_id", "assignment", "score", "max_score", "late_days", "penalty", "final_score"]
    assert (out / "grades.csv").read_text().splitlines()[0].split(",") == totals
    for assignment in {a for _, a in expected}:
        header = (out / "grades" / f"{assignment}.csv").read_text().splitlines()[0].split(",")
        assert header == totals + [g for g, _ in graded_cells(assignment)]
    for student, assignment in expected - {("malformed_json", "a1_neuron")}:
        assert (out / "feedback" / student / assignment / f"{assignment}.html").exists()


def test_feedback_shows_results_but_not_hidden_tests(graded):
    """Does the feedback name the failing output and keep the hidden tests hidden?"""
    out, _ = graded
    text = feedback_text(out, "edited_test_cell", "a1_neuron")
    assert "dense_forward" in text and "BEGIN HIDDEN TESTS" not in text and "fresh_rng()" not in text


def test_partial_credit_reaches_the_gradebook_and_the_feedback(graded):
    """A test made of parts that passes some (the values of sigmoid, not its stability at x = -1000): is its
    partial score nbgrader's own, in the gradebook and the grades files, and does the feedback say which parts passed?"""
    from nbgrader.api import Gradebook
    out, _ = graded
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}", course.COURSE_ID) as gb:
        grade_row = gb.find_grade("test_sigmoid", "a1_neuron", "a1_neuron", "unstable")
        assert (grade_row.auto_score, grade_row.max_score) == (5.0, 8.0)
        assert gb.find_grade("test_tanh", "a1_neuron", "a1_neuron", "unstable").auto_score == 3.0
    assert grades_by_submission(out)[("unstable", "a1_neuron")]["test_sigmoid"] == 5.0
    text = feedback_text(out, "unstable", "a1_neuron")
    assert "✔ values (5)" in text and "✘ stable for large |x| (3): sigmoid is not numerically stable" in text
    assert "partial credit: 5 of 8" in text and "test_sigmoid (баллы: 5.0 из 8.0)" in text


def test_rerun_is_idempotent_and_a_late_submission_is_graded_alone(graded, tmp_path):
    """Does re-grading the same folder change nothing, and does one late submission cost one grading?"""
    out, _ = graded
    before = (out / "grades.csv").read_text()
    again = run_grading(HONEST, out, jobs=2, timeout=15)
    assert again["graded_now"] == 0 and (out / "grades.csv").read_text() == before
    late = tmp_path / "with_late"
    shutil.copytree(HONEST, late)
    shutil.copytree(HONEST / "perfect" / "a1_neuron", late / "late_student" / "a1_neuron")
    summary = run_grading(late, out, jobs=2, timeout=15)
    assert summary["graded_now"] == 1
    rows = grades_by_submission(out)
    assert rows[("late_student", "a1_neuron")]["score"] == 100.0
    old_rows = before.splitlines()
    new_rows = [line for line in (out / "grades.csv").read_text().splitlines() if not line.startswith("late_student,")]
    assert new_rows == old_rows

def test_zip_of_submissions_and_another_gradebook_url(tmp_path):
    """Is a zip graded like the folder, into the gradebook named by --db-url, even under a very long path?"""
    tmp_path = tmp_path / ("a-rather-long-folder-name-" * 6)          # kernel sockets must not live here
    folder = tmp_path / "subs"
    folder.mkdir(parents=True)
    for student in ("partly_wrong", "raises"):
        shutil.copytree(HONEST / student, folder / student)
    archive = shutil.make_archive(str(tmp_path / "subs"), "zip", folder)
    db = tmp_path / "elsewhere" / "course.db"
    db.parent.mkdir()
    run_grading(archive, tmp_path / "out", jobs=2, timeout=15, db_url=f"sqlite:///{db}")
    assert db.exists() and not (tmp_path / "out" / "gradebook.db").exists()
    rows = grades_by_submission(tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    for student in ("partly_wrong", "raises"):
        assert rows[(student, "a1_neuron")]["score"] == sum(SAMPLES[student].expected_scores("a1_neuron").values()), \
            [p["detail"] for p in report["problems"] if p["student"] == student]


def test_a_grader_crash_is_recorded_as_a_problem_not_lost(tmp_path):
    """If the grading process itself fails (here: its course files are missing), is the submission still
    recorded (0, grader-error) for review, with what the worker said?"""
    probe = sandbox.probe(tmp_path / "probe")
    server = executors.start_server(probe, tmp_path / "scratch", [], grade.Settings(out=tmp_path).worker_user)
    try:
        job = Job("s", "a1_neuron", "k", {"a1_neuron.ipynb": base64.b64encode(b"{}").decode()}, timeout=5,
                  wall_timeout=60, limits=asdict(sandbox.Limits()))
        result = executors.run_job(server, job, tmp_path / "no-course", probe.kernel_settings())
    finally:
        server.close()
    assert result.grades == [] and [p.kind for p in result.problems] == ["grader-error"]
    assert "no-course" in result.problems[0].detail


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch):
    """Does grade refuse loudly when protections are missing, and go on only with --allow-unsandboxed?"""
    monkeypatch.setattr(sandbox, "probe", lambda scratch: sandbox.Probe(missing=["bubblewrap is not installed"]))
    settings = grade.Settings(out=tmp_path, allow_unsandboxed=False, progress=False)
    with pytest.raises(grade.SandboxUnavailable, match="(?s)REFUSING TO GRADE.*bubblewrap"):
        grade.grade(HONEST, settings)
    settings = dataclasses.replace(settings, allow_unsandboxed=True)
    assert grade.check_sandbox(settings, tmp_path).missing == ["bubblewrap is not installed"]


@pytest.mark.parametrize("setting, message", [
    ({"db_url": "mysql://teacher@localhost/course"}, "a 'mysql' gradebook is not supported: use sqlite:///PATH or postgresql://"),
    ({"db_url": "not a url"}, "is not a database URL"),
    ({"scheduler": "http://127.0.0.1:8786"}, "is not a Dask scheduler address: write it as tcp://HOST:PORT"),
    ({"cluster": "2"}, "write local:N for a Dask LocalCluster"),
    ({"cluster": "local:2", "scheduler": "tcp://127.0.0.1:8786"}, "--scheduler and --cluster exclude each other"),
])
def test_settings_that_cannot_work_are_refused_before_anything_is_written(tmp_path, setting, message):
    """Does a wrong gradebook URL or Dask address give one message that says what to write, with nothing written?"""
    settings = grade.Settings(out=tmp_path / "out", progress=False, **setting)
    with pytest.raises(grade.GradingError, match=re.escape(message)):
        grade.grade(HONEST, settings)
    assert not (tmp_path / "out").exists()


def test_the_command_line_reports_a_refusal_in_one_line_and_exits_non_zero(tmp_path):
    """Run as an instructor would: exit code 2 and a single `error:` line on stderr?"""
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(HONEST), "--out", str(tmp_path / "out"),
                          "--db-url", "oracle://x@y/z"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and run.stderr.startswith("error: --db-url"), run.stderr
    assert not (tmp_path / "out").exists()
