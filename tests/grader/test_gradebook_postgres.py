"""The course gradebook in a real PostgreSQL server (what several graders share), started for these tests.

A full run, an incremental re-run that changes nothing, two grading processes at once on disjoint
batches, nbgrader's own export reading it back, and clear refusals of gradebooks that cannot be used.
"""
import csv
import shutil
import subprocess
import sys

import pytest

from autograder import course
from autograder.pipeline import gradebook
from autograder.pipeline.grade import GradingError, Settings, grade
from autograder.course.samples import HONEST, honest_samples
from grading_helpers import assert_sample_graded_as_specified, require_sandbox, run_grading
from postgres_server import require_postgres, start_server, stop_server

pytestmark = pytest.mark.slow
A1 = "a1_neuron"
BATCH_A = ["partly_wrong", "raises"]
BATCH_B = ["untouched", "warns"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    bin_dir = require_postgres()
    server = start_server(tmp_path_factory.mktemp("postgres"), bin_dir)
    yield server
    stop_server(server)


def _submissions(folder, students):
    for student in students:
        shutil.copytree(HONEST / student / A1, folder / student / A1)
    return folder


def _nbgrader_export(db_url, folder):
    """Rows of `nbgrader export` (nbgrader's own command) run against the gradebook."""
    folder.mkdir()
    run = subprocess.run([str(course.Path(sys.executable).parent / "nbgrader"), "export", f"--db={db_url}",
                          f"--CourseDirectory.course_id={course.COURSE_ID}", "--to=export.csv"],
                         cwd=folder, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(folder / "export.csv") as f:
        return {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}


def test_a_full_run_and_an_incremental_rerun_into_postgresql(server, tmp_path):
    """Graded into PostgreSQL: does every sample get its expected grades, does a re-run grade nothing and change
    nothing, and does `nbgrader export` read the same scores back?"""
    require_sandbox(tmp_path / "probe")
    db_url = server.createdb("full_run")
    submissions = _submissions(tmp_path / "submissions", BATCH_A + BATCH_B)
    summary = run_grading(submissions, tmp_path / "out", timeout=20, db_url=db_url)
    assert summary["graded_now"] == 4 and not (tmp_path / "out" / "gradebook.db").exists()
    samples = honest_samples()
    for student in BATCH_A + BATCH_B:
        assert_sample_graded_as_specified(tmp_path / "out", student, samples[student])
    exported = _nbgrader_export(db_url, tmp_path / "export1")
    assert {k: v for k, v in exported.items() if k[1] == A1} == {
        (s, A1): sum(samples[s].expected_scores(A1).values()) for s in BATCH_A + BATCH_B}
    again = run_grading(submissions, tmp_path / "out", timeout=20, db_url=db_url)
    assert again["graded_now"] == 0 and again["submissions"] == summary["submissions"]
    assert _nbgrader_export(db_url, tmp_path / "export2") == exported


def test_two_graders_at_once_into_one_gradebook(server, tmp_path):
    """Two `autograder grade` processes started together on disjoint batches, one PostgreSQL gradebook:
    is every submission's row there afterwards, with its score?"""
    require_sandbox(tmp_path / "probe")
    db_url = server.createdb("two_graders")
    runs = []
    for name, batch in (("a", BATCH_A), ("b", BATCH_B)):
        folder = _submissions(tmp_path / f"batch-{name}", batch)
        runs.append(subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(folder), "--out",
                                      str(tmp_path / f"out-{name}"), "--db-url", db_url, "--jobs", "1", "--quiet",
                                      "--timeout", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for run in runs:
        _, err = run.communicate(timeout=900)
        assert run.returncode == 0, err[-3000:]
    samples = honest_samples()
    for student in BATCH_A + BATCH_B:
        expected = sum(samples[student].expected_scores(A1).values())
        assert gradebook.submission_score(db_url, student, A1, course.COURSE_ID) == (expected, 100.0), student


def test_a_login_the_server_refuses_is_one_clear_error(server, tmp_path):
    """A role the server does not know: does grade say so in one line, exit non-zero and write nothing?"""
    server.createdb("refused")
    db_url = server.url("refused").replace("grader@", "nobody_here@")
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(HONEST), "--out", str(tmp_path / "out"),
                          "--db-url", db_url, "--quiet"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot open the gradebook" in lines[0] and "nobody_here" in lines[0], run.stderr
    assert not (tmp_path / "out").exists()


def test_a_gradebook_of_another_course_is_refused(server, tmp_path):
    """A gradebook that another course created: is it refused, naming that course, before anything is written?"""
    db_url = server.createdb("other_course")
    from nbgrader.api import Gradebook
    with Gradebook(db_url, "compilers-2026"):
        pass                                              # nbgrader creates its tables and the course row
    with pytest.raises(GradingError, match="belongs to the course compilers-2026.*--course-id"):
        grade(HONEST, Settings(out=tmp_path / "out", db_url=db_url, progress=False))
    assert not (tmp_path / "out").exists()
