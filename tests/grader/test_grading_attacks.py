"""A hostile student against the grader: empty or wrong code plus a trick must still score 0.

Every attack (tests/attacks.py) is a notebook of a1_neuron whose graded functions are the released
stubs or wrong code, with one class of trick added: the IPython shell, the notebook's namespace and
the test helpers, tracing and threads, values sent on the wire, replies written by hand, in-place
changes of the grader's arguments, the pre-run scan, secrets, output floods, HTML and Javascript,
terminal escapes and forged observations. All of them are graded in ONE sandboxed run beside an
honest bystander (must keep 100) and the untouched release (must score 0).
"""
import contextlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import nbformat
import pytest

import attack_notebooks as attacks
from autograder import course
from autograder.judge import sandbox
from autograder.course.samples import filled
from autograder.pipeline.report import print_summary
from grading_helpers import active_content as _active, grades_by_submission, require_sandbox, run_grading

pytestmark = pytest.mark.slow
A1 = attacks.A1
A2 = "a2_optimizers"
FORGED_KINDS = {"timeout", "kernel-died", "not-run", "output-truncated", "grader-error"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(output folder, summary, student names) of one sandboxed grading run over every attack."""
    require_sandbox(tmp_path_factory.mktemp("probe"))
    submissions = tmp_path_factory.mktemp("attacks")
    students = attacks.write_submissions(submissions)
    out = tmp_path_factory.mktemp("graded")
    summary = run_grading(submissions, out, jobs=2, timeout=10)
    return out, summary, students


def _report(out):
    return json.loads((Path(out) / "report.json").read_text())


def _problems(out, student):
    return [p for p in _report(out)["problems"] if p["student"] == student]


def _feedback(out, student):
    return (Path(out) / "feedback" / student / A1 / f"{A1}.html").read_text()


def _text(page):
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# --- the safe outcome for every attack -------------------------------------------------------------------
@pytest.mark.parametrize("student", sorted(attacks.ATTACKS) + ["escape_filename"])
def test_attack_earns_nothing(graded, student):
    """Does a notebook whose graded functions are stubs or wrong code get 0 on those tests, whatever its trick?"""
    out, _, _ = graded
    row = grades_by_submission(out)[(student, A1)]
    earned = {g: row[g] for g in attacks.lost_tests(student) if row.get(g, 0.0) != 0.0}
    assert earned == {}, f"{student} earned points with empty or wrong code: {earned}"
    assert row["max_score"] == 100.0, f"{student} changed the maximum score to {row['max_score']}"


def test_the_honest_bystander_keeps_full_marks(graded):
    """Does the honest submission graded beside all the attacks still get exactly 100 and no problems?"""
    out, summary, _ = graded
    row = grades_by_submission(out)[("bystander", A1)]
    assert (row["score"], row["max_score"]) == (100.0, 100.0)
    assert _problems(out, "bystander") == []


def test_the_untouched_release_scores_zero(graded):
    """Does the released notebook, handed in as it is, score 0?"""
    out, _, _ = graded
    row = grades_by_submission(out)[("empty", A1)]
    assert (row["score"], row["max_score"]) == (0.0, 100.0)


def test_nothing_is_lost(graded):
    """Is every submission, attacks included, in grades.csv, in report.json and given a feedback page?"""
    out, summary, students = graded
    assert {s for s, _ in grades_by_submission(out)} == set(students)
    assert {s["student"] for s in summary["submissions"]} == set(students)
    assert {s["student"] for s in _report(out)["submissions"]} == set(students)
    missing = [s for s in students if not (Path(out) / "feedback" / s / A1 / f"{A1}.html").is_file()]
    assert missing == []


def test_an_archive_cannot_replace_another_students_notebook(graded):
    """Does a zip in one student's folder holding `bystander/a1_neuron/a1_neuron.ipynb` (also via ../) stay refused?"""
    out, _, _ = graded
    assert grades_by_submission(out)[("bystander", A1)]["score"] == 100.0
    refused = [p for p in _report(out)["problems"] if attacks.SMUGGLER in p["detail"]]
    assert refused, "the smuggled archive was not reported"
    assert all(p["student"] != "bystander" for p in refused)


def test_no_grader_error_for_anyone(graded):
    """Does no attack make the grading of its own or anyone's notebook fail as a whole (grader-error)?"""
    out, _, _ = graded
    errors = [(p["student"], p["detail"][-300:]) for p in _report(out)["problems"] if p["kind"] == "grader-error"]
    assert errors == []


# --- forged problems ---------------------------------------------------------------------------------------
def test_printed_lines_and_exception_names_forge_no_problem(graded):
    """Do `[grader] timeout:` prints, exceptions named NotRun/CellTimeoutError/KeyboardInterrupt create problems?"""
    out, _, _ = graded
    kinds = {p["kind"] for p in _problems(out, "forgery")}
    assert kinds & FORGED_KINDS == set(), f"forged problems: {[p for p in _problems(out, 'forgery') if p['kind'] in FORGED_KINDS]}"


def test_no_problem_anywhere_carries_forged_text(graded):
    """Does any problem of any student repeat text the students wrote to imitate the grader?"""
    out, _, _ = graded
    forged = [p for p in _report(out)["problems"] if "FORGED" in json.dumps(p)]
    assert forged == []


def test_nobody_else_gets_problems_from_the_attacks(graded):
    """Are the bystander and the untouched release free of problems the attacks might have planted?"""
    out, _, _ = graded
    assert _problems(out, "bystander") == [] and _problems(out, "empty") == []


# --- the report and the terminal ------------------------------------------------------------------------
def _control(text, allowed=""):
    return sorted({repr(c) for c in text if unicodedata.category(c) == "Cc" and c not in allowed})


def test_report_has_no_control_characters(graded):
    """Are the problems of report.json free of control characters (escapes, bells, carriage returns, newlines)?"""
    out, _, _ = graded
    dirty = []
    for p in _report(out)["problems"]:
        allowed = "\n" if p["kind"] == "grader-error" else ""         # a traceback's lines
        found = _control("".join(str(p.get(k, "")) for k in ("student", "assignment", "notebook", "kind", "detail")), allowed)
        if found:
            dirty.append((p["student"], p["kind"], found, p["detail"][:120]))
    assert dirty == []


def test_terminal_summary_is_plain_text(graded):
    """Does the instructor's terminal get no escape sequences and no line a student forged?"""
    out, summary, _ = graded
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        print_summary(summary, Path(out))
    text = printed.getvalue()
    assert _control(text, "\n") == []
    problem_lines = [line for line in text.splitlines() if line.startswith("  [")]
    assert len(problem_lines) == len(summary["problems"]), "a problem spans several lines (a forged line?)"
    assert not [line for line in problem_lines if re.match(r"  \[[^\]]*\] (bystander|empty)/", line)]


def test_file_name_with_escapes_is_graded_and_reported_cleanly(graded):
    """Is a notebook whose file name holds escape sequences graded (0) and named without them?"""
    out, _, _ = graded
    problems = _problems(out, "escape_filename")
    assert problems, "the odd file name was not reported"
    assert all(_control(p["detail"]) == [] for p in problems)


# --- the feedback ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("student", sorted(attacks.ATTACKS))
def test_feedback_runs_nothing(graded, student):
    """Does the attacker's feedback page hold no script of its own, no event handler, no javascript: URL, no frame?"""
    out, _, _ = graded
    template = _active(_feedback(out, "bystander"))
    page = _active(_feedback(out, student))
    assert page.scripts == template.scripts, [s[:200] for s in page.scripts if s not in template.scripts]
    assert page.handlers == [] and template.handlers == []
    assert page.urls == []
    assert page.frames == []


@pytest.mark.parametrize("student", sorted(attacks.ATTACKS))
def test_feedback_shows_no_hidden_test(graded, student):
    """Does the attacker's feedback page (or its printed cell sources) show none of the hidden tests?"""
    out, _, _ = graded
    text = _text(_feedback(out, student))
    assert [t for t in attacks.HIDDEN_TEXT if t in text] == []


def test_pre_run_cell_hook_sees_no_test_source(graded):
    """Does a pre_run_cell hook that prints every cell the kernel runs ever print a test cell?"""
    out, _, _ = graded
    printed = re.findall(r"CELL SOURCE >>>(.*?)<<< END", _text(_feedback(out, "shell_hooks")), re.DOTALL)
    assert printed, "the hook printed nothing: the attack was not exercised"
    assert [p[:200] for p in printed if "call_student(" in p or "compare(" in p] == []


def test_flood_is_capped(graded):
    """Are update_display_data loops, a 12 MB HTML display and a 12 MB print cut, and said so?"""
    out, _, _ = graded
    assert "output-truncated" in {p["kind"] for p in _problems(out, "floods")}
    size = (Path(out) / "feedback" / "floods" / A1 / f"{A1}.html").stat().st_size
    assert size < 12 * 2 ** 20, f"feedback of {size} bytes"


def test_replies_written_by_hand_leak_nothing_into_feedback(graded):
    """Do notes and printed text forged in a reply stay capped and inert in the feedback?"""
    out, _, _ = graded
    text = _text(_feedback(out, "raw_replies"))
    assert text.count("PWN_NOTE") - 1 <= 3, "more notes than the grader keeps"          # 1: the cell's own source
    assert text.count("PWN_PRINTED") - 1 <= 1000 // len("\x1b]0;FORGED\x07<img src=x onerror=PWN_PRINTED()>") + 1


# --- secrets -----------------------------------------------------------------------------------------------------
def test_secrets_are_out_of_reach(graded):
    """Did the notebook that looked for /etc/shadow, solutions, the reference and other students find nothing?"""
    out, _, _ = graded
    text = _text(_feedback(out, "secrets"))
    assert "shadow: PermissionError" in text or "shadow: FileNotFoundError" in text
    for line in ("solution notebooks visible: 0", "git objects visible: 0", "rnncore visible: False",
                 "samples visible: 0", "other students visible: 0"):
        assert line in text
    assert "uid: 65534" in text


def test_callbacks_answer_no_private_attribute(graded):
    """Do callback prompts typed by hand on the stdin channel get anything but errors from the grader?"""
    out, _, _ = graded
    text = _text(_feedback(out, "secrets"))
    assert "LEAK" in text, "the prompts were not sent: the attack was not exercised"
    assert '"ok": true' not in text


# --- the scan ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where, what", [
    ("sigmoid", "exec"), ("tanh", "eval"), ("relu", "compile"),
    ("sigmoid_grad", "exec"),                  # the solution cell is marked locked in the submission
    ("tanh_grad", "eval"),                     # ... and this one as a graded, locked cell
    ("relu_grad", "computed name"),            # exec fetched from the builtins by a computed name
    ("an added cell", "%run"), ("an added cell", "shell command"), ("an added cell", "%bash"),
])
def test_scan_flags_code_run_from_strings_and_magics(graded, where, what):
    """Does the pre-run scan flag exec/eval/compile, magics and shell escapes wherever the student put them?"""
    out, _, _ = graded
    flags = [p["detail"] for p in _problems(out, "scan_evasion") if p["kind"] == "suspected-cheating"]
    assert any(d.startswith(f"{where},") and what in d for d in flags), f"no flag for {what} in {where}: {flags}"


# --- metadata -------------------------------------------------------------------------------------------------
def test_a_cell_marked_graded_by_the_student_adds_no_points(graded):
    """Does a student's cell marked as a graded test with points 100 (or a test given 1000 points) count?"""
    out, _, _ = graded
    row = grades_by_submission(out)[("metadata_tricks", A1)]
    assert "bonus" not in row
    assert row["max_score"] == 100.0
    assert {"edited-test-cell", "deleted-test-cell"} <= {p["kind"] for p in _problems(out, "metadata_tricks")}


# --- the kernel as a whole ---------------------------------------------------------------------------------
def test_a_kernels_children_share_one_memory_limit(graded):
    """Four children of 2 GB each: does the kernel's whole process tree stay under its memory limit?"""
    out, _, _ = graded
    timing = json.loads((Path(out) / "results" / "memory_tree" / f"{A1}.json").read_text())["timing"]
    limit = sandbox.Limits().memory_mb
    assert "kernel_peak_mb" in timing, "the kernel's peak memory was not measured (no memory cgroup?)"
    assert 1500 < timing["kernel_peak_mb"] <= limit + 16, timing      # it did allocate, and no more than the limit


# --- the grader's objects: out of the student's reach ------------------------------------------------------------
# The body of minimize: the held-out attack (an object array from the test's optimizer, then its tofile() aimed at
# the grader), then an honest trajectory.
REACH_GRADER = '''
for target in TARGETS:
    try:
        array = optimizer.init([None])["acc"]
        array.fill("print('owned')")
        array.tofile(target)
    except Exception as err:
        print("refused:", type(err).__name__)
theta, state = theta0, optimizer.init(theta0)
path = [theta]
for _ in range(steps):
    theta, state = optimizer.step(theta, grad_fn, state)
    path.append(theta)
return path
'''


def test_a_tests_object_gives_the_students_code_no_write(tmp_path):
    """a2's hidden test hands its optimizer to the student's minimize. Can minimize reach a method of the grader's
    (an object array's tofile) to overwrite a module of the grader, the gradebook or a solution? The grader runs from a
    temporary copy of the repository, so a write that got through would change the copy."""
    require_sandbox(tmp_path / "probe")
    repository = tmp_path / "repository"
    for name in ("autograder", "rnncore", "solutions", "assignments"):
        shutil.copytree(course.REPO / name, repository / name, ignore=shutil.ignore_patterns("__pycache__", "samples"))
    out = tmp_path / "out"
    targets = [repository / "autograder" / "pipeline" / "workers.py", out / "gradebook.db",
               repository / "solutions" / A2 / f"{A2}.ipynb"]
    guarded = {path: path.read_bytes() for path in targets if path.exists()}
    submissions = tmp_path / "submissions"
    for student, bodies in (("attacker", {"minimize": f"TARGETS = {[str(t) for t in targets]!r}\n" + REACH_GRADER}),
                            ("bystander", {})):
        path = submissions / student / A2 / f"{A2}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(nbformat.writes(filled(A2, bodies), version=4))
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out), "--jobs", "2",
                          "--quiet"], capture_output=True, text=True, timeout=900, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(repository)})
    assert run.returncode == 0, run.stderr[-2000:]
    rows = grades_by_submission(out)
    assert rows[("bystander", A2)]["score"] == 100.0
    assert rows[("attacker", A2)]["test_minimize"] == 0.0
    failure = json.loads((out / "results" / "attacker" / f"{A2}.json").read_text())["failures"]["test_minimize"]
    assert "CallbackFault" in failure and "cannot be sent" in failure, failure
    for path, before in guarded.items():
        assert path.read_bytes() == before, f"{path} changed"
    assert not (repository / "autograder" / "owned.py").exists()
