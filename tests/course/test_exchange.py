"""nbgrader's exchange loop end to end, with nbgrader's own commands and `python -m autograder grade`.

The instructor releases every assignment into an exchange root; two students fetch a1 and submit (bob
twice: the later submission counts, and it comes after the due date); the instructor collects, grades
straight from the course's submitted/ folder with the feedback written into the course's feedback/
folder, and releases the feedback; each student fetches his own. These are the commands of
docs/instructor-guide.md.

nbgrader names a student after the operating-system account that runs the command (`pwd`, or
JUPYTERHUB_USER for the user `jovyan`); `--student ID` (CourseDirectory.student_id) names him explicitly,
which is how one test account plays two students. Each student has his own folder and nbgrader cache.
"""
import csv
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import course
from autograder.judge import sandbox
from autograder.course.samples import filled
from autograder.course import Course

COURSE = Course.here()

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent                      # nbgrader runs `alembic` from PATH: this bin/ first
COURSE_ID = "rnn"
A1 = "a1_neuron"


def run(command, cwd):
    """Run a command of this environment's bin/ (nbgrader, python) in cwd; it must succeed. Returns its output."""
    env = {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output[-4000:]}"
    return output


def nbgrader(command, cwd, exchange, options=()):
    """An nbgrader command for this course and exchange root (it must succeed); returns its output."""
    return run(["nbgrader", *command, f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}",
                *options], cwd)


class Student:
    """A student's own folder and nbgrader cache (what his home folder holds on a JupyterHub)."""

    def __init__(self, name, tmp_path, exchange):
        self.name, self.exchange = name, exchange
        self.home = tmp_path / name
        self.home.mkdir()

    def nbgrader(self, *command):
        return nbgrader(command, self.home, self.exchange, [f"--Exchange.cache={self.home / 'cache'}",
                                                            f"--student={self.name}"])

    def write(self, nb):
        nbformat.write(nb, str(self.home / A1 / f"{A1}.ipynb"))

    def submit(self):
        """Submit a1; returns the timestamp nbgrader gave the submission."""
        output = self.nbgrader("submit", A1)
        return re.search(rf"Submitted as: {COURSE_ID} {A1} (.+ UTC)", output).group(1)

    def feedback(self):
        """{submission timestamp: text of the fetched feedback page} after fetch_feedback."""
        self.nbgrader("fetch_feedback", A1)
        folder = self.home / A1 / "feedback"
        return {p.parent.name: p.read_text() for p in folder.glob(f"*/{A1}.html")}


def grading_flags(scratch):
    """--allow-unsandboxed only where the sandbox is missing (and the CI does not require it)."""
    report = sandbox.probe(scratch)
    if report.complete:
        return []
    if os.environ.get("RNNCOURSE_REQUIRE_SANDBOX"):
        pytest.fail("sandbox unavailable: " + "; ".join(report.missing))
    return ["--allow-unsandboxed"]


def total_score(html):
    """The assignment's total on a feedback page (in Russian: «баллы: X из Y»), as 'score / max'."""
    found = re.search(rf"{A1} \(баллы: ([0-9.]+) из ([0-9.]+)\)", html)
    return f"{found.group(1)} / {found.group(2)}"


def test_exchange_loop_end_to_end(tmp_path):
    """Release, fetch, submit (twice, once late), collect, grade, release and fetch feedback: does each student
    get his own score and nobody else's, does the later submission count and is the late one reported?"""
    exchange, course_dir, out = tmp_path / "exchange", tmp_path / "course", tmp_path / "grading"
    course_dir.mkdir()
    for assignment in COURSE.assignment_ids:
        nbgrader(["release_assignment", assignment, f"--CourseDirectory.release_directory={COURSE.assignments}"],
                 course_dir, exchange)
    listed = nbgrader(["list"], course_dir, exchange)
    assert all(a in listed for a in COURSE.assignment_ids), listed

    alice, bob = Student("alice", tmp_path, exchange), Student("bob", tmp_path, exchange)
    for student in (alice, bob):
        student.nbgrader("fetch_assignment", A1)
        assert (student.home / A1 / f"{A1}.ipynb").read_bytes() == (COURSE.assignments / A1 / f"{A1}.ipynb").read_bytes()
    first_of_bob = bob.submit()                                    # untouched: would score 0
    alice.write(filled(A1))
    alice.submit()
    due = datetime.datetime.now(datetime.timezone.utc)
    nbgrader(["db", "assignment", "add", A1, f"--duedate={due:%Y-%m-%d %H:%M:%S.%f} UTC"], course_dir, exchange)
    bob.write(filled(A1, {"relu": "return np.abs(x)", "softmax": "return np.exp(z) / np.exp(z).sum()"}))
    last_of_bob = bob.submit()                                     # after the due date; this one counts
    assert last_of_bob > first_of_bob

    nbgrader(["collect", A1], course_dir, exchange)
    assert (course_dir / "submitted" / "bob" / A1 / "timestamp.txt").read_text() == last_of_bob
    run(["python", "-m", "autograder", "grade", str(course_dir / "submitted"), "--out", str(out),
         "--db-url", f"sqlite:///{course_dir / 'gradebook.db'}", "--feedback-dir", str(course_dir / "feedback"),
         "--quiet", *grading_flags(tmp_path / "probe")], course.REPO)

    with open(out / "grades.csv") as f:
        scores = {row["student_id"]: f"{float(row['score']):.1f} / {float(row['max_score']):.1f}"
                  for row in csv.DictReader(f) if row["assignment"] == A1}
    assert scores["alice"] == "100.0 / 100.0"
    assert scores["bob"] not in (scores["alice"], "0.0 / 100.0")      # the partly right later submission
    report = json.loads((out / "report.json").read_text())
    late = [p for p in report["problems"] if p["kind"] == "late"]
    assert [(p["student"], p["assignment"]) for p in late] == [("bob", A1)], report["problems"]
    assert "after the due date" in late[0]["detail"]

    (course_dir / "roster.csv").write_text("id,first_name,last_name,email\n"
                                           "alice,Alice,Liddell,alice@example.org\nbob,Bob,Dylan,bob@example.org\n")
    nbgrader(["db", "student", "import", "roster.csv"], course_dir, exchange)
    nbgrader(["export", "--to=lms.csv"], course_dir, exchange)
    with open(course_dir / "lms.csv") as f:
        lms = {row["email"]: row for row in csv.DictReader(f) if row["assignment"] == A1}
    assert f"{float(lms['alice@example.org']['score']):.1f} / {float(lms['alice@example.org']['max_score']):.1f}" \
        == scores["alice"]
    assert f"{float(lms['bob@example.org']['score']):.1f} / 100.0" == scores["bob"]
    assert lms["bob@example.org"]["timestamp"] > lms["bob@example.org"]["duedate"] > lms["alice@example.org"]["timestamp"]

    nbgrader(["release_feedback", A1], course_dir, exchange)
    for student, other in ((alice, bob), (bob, alice)):
        pages = student.feedback()
        assert list(pages) == [(course_dir / "submitted" / student.name / A1 / "timestamp.txt").read_text()]
        (page,) = pages.values()
        assert total_score(page) == scores[student.name]
        assert f"(баллы: {scores[other.name].replace(' / ', ' из ')})" not in page
        assert "BEGIN HIDDEN TESTS" not in page


def read_only_exchange_command(root):
    """A prefix that runs a command with `root` on a read-only mount (root ignores file modes), or None."""
    if os.geteuid() != 0:
        return []
    if shutil.which("bwrap") is None:
        return None
    return ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(root), str(root), "--"]


def test_unwritable_exchange_root_is_refused_clearly(tmp_path):
    """Does an exchange root nobody may write to stop the instructor and the student with a message naming it?"""
    parent = tmp_path / "shared"
    exchange = parent / "exchange"
    exchange.mkdir(parents=True)
    exchange.chmod(0o777)
    prefix = read_only_exchange_command(parent)
    if prefix is None:
        pytest.skip("running as root, a read-only exchange needs bubblewrap (apt-get install bubblewrap)")
    if not prefix:
        parent.chmod(0o555)
        exchange.chmod(0o555)
    env = {**os.environ, "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", "")}
    common = [f"--CourseDirectory.course_id={COURSE_ID}", f"--Exchange.cache={tmp_path / 'cache'}"]
    try:
        student = subprocess.run([*prefix, str(BIN / "nbgrader"), "fetch_assignment", A1,
                                  f"--Exchange.root={exchange}", *common],
                                 cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        instructor = subprocess.run([*prefix, str(BIN / "nbgrader"), "release_assignment", A1,
                                     f"--Exchange.root={parent / 'new-exchange'}", *common,
                                     f"--CourseDirectory.release_directory={COURSE.assignments}"],
                                    cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    finally:
        parent.chmod(0o755)
        exchange.chmod(0o755)
    assert student.returncode != 0
    assert f"Unwritable directory, please contact your instructor: {exchange}" in student.stderr, student.stderr
    assert instructor.returncode != 0
    assert str(parent / "new-exchange") in instructor.stderr
    assert re.search(r"permission denied|Read-only file system", instructor.stderr, re.I), instructor.stderr[-2000:]
    assert not (parent / "new-exchange").exists()
