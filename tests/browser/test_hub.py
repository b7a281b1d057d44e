"""The course on JupyterHub (deploy/jupyterhub/), a whole term, with real Unix accounts.

The demo hub runs on 127.0.0.1 as root, as `make hub` does: every user is a Unix account made for the
test (names that cannot clash with real ones, removed at the end) and every server runs as its
account. The instructor types the commands of docs/instructor-guide.md (steps 2b to 6) into the
terminal of his JupyterLab; student1 works in the browser (Assignment List: fetch, write one function,
submit, fetch and read the feedback); student2 types the guide's student commands into his terminal,
and tries to read what is not his: another student's folder, the instructor's course (solutions,
gradebook), the repository's solutions and sample submissions, the exchange's inbox. Each refused.
At the end student2 hands in again, a notebook that calls the rnncore reference (plain nbgrader would
give it points it must not get), and the instructor collects and autogrades it in Formgrader: the
judge's score appears in Manual Grading and in the gradebook.
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import labdriver as lab
from autograder.course.samples import HOSTILE, graded_cells, hostile_samples

# The hub runs from a copy of the repository: it closes the instructor-only folders of the repository it runs
# from, and the other tests, running at the same time, must keep reading this one's.
HUB_REPO = lab.REPO / "build" / "hub-test-repo"
HUB_CONFIG = HUB_REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py"
GUIDE = lab.REPO / "docs" / "instructor-guide.md"
HUB_ENV = lab.REPO / "build" / "hub-test-env"        # the users' environment, kept between runs (about 30 s to make)
REPOSITORY_PARTS = ["deploy", "solutions", "assignments", "lectures", "autograder", "rnncore", "docs",
                    "pyproject.toml", "README.md"]          # docs/: the hub's course takes its calendar from there
PASSWORD = "browser-test"
ASSIGNMENT = "a1_neuron"
STUDENT_COMMANDS = re.compile(r"nbgrader (fetch_assignment|submit|fetch_feedback)\b")


def copy_repository():
    """HUB_REPO: what the hub uses of this repository, copied afresh (the users' environment is installed from it)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints")
    for part in REPOSITORY_PARTS:
        source, target = lab.REPO / part, HUB_REPO / part
        if target.is_dir():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore)
        else:
            shutil.copy2(source, target)


def load_hubsetup():
    import importlib.util
    spec = importlib.util.spec_from_file_location("hubsetup", HUB_REPO / "deploy" / "jupyterhub" / "hubsetup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def guide_blocks():
    """[(role, [command, ...])] of the instructor guide's sh blocks from step 2b on, in order.

    A command is one logical shell line: backslash continuations joined, a for loop up to its `done`.
    A block is the student's if it runs a student's nbgrader command, else the instructor's. Blocks that run
    the repository's own .venv/bin/python (statistics, similarity, LMS files: the term's tools, run from a
    checkout of the repository) are left out: `grade` already writes the statistics, and the LMS files need an
    LMS's export."""
    text = GUIDE.read_text()
    text = text[text.index("### b. nbgrader's exchange"):]
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", text, re.S):
        commands, current, depth = [], "", 0
        for line in body.splitlines():
            if not line.strip() and not current:
                continue
            current += line + "\n"
            words = re.sub(r"#.*", "", line).split()
            depth += words.count("do") - words.count("done")
            if not line.rstrip().endswith("\\") and depth == 0:
                commands.append(current.rstrip("\n"))
                current = ""
        if any(c.startswith(".venv/bin/python") for c in commands):
            continue
        role = "student" if any(STUDENT_COMMANDS.search(c) for c in commands) else "instructor"
        blocks.append((role, commands))
    return blocks


@pytest.fixture(scope="module")
def hub(browser):
    """(base URL, state folder, account names) of the demo hub run as root; the hub, every server and the
    accounts are gone after the module, and the repository's folders have their modes back."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        message = "the hub test makes real Unix accounts: run it as root (CI does), with useradd"
        if os.environ.get("RNNCOURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    if shutil.which("jupyterhub", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("JupyterHub is not installed: pip install -e '.[browser]'")
    # Under /tmp itself: pytest's own temporary folders are closed to the accounts (mode 700).
    root = Path(tempfile.mkdtemp(prefix="rnncourse-hub-", dir="/tmp"))
    root.chmod(0o755)
    tag = "rnn" + secrets.token_hex(3)
    names = {"instructor": f"{tag}-t", "student1": f"{tag}-s1", "student2": f"{tag}-s2"}
    copy_repository()
    port = lab.free_port()
    env = dict(os.environ)
    env.update(RNNCOURSE_HUB_ROOT=str(root / "hub"), RNNCOURSE_HUB_PORT=str(port), RNNCOURSE_HUB_PASSWORD=PASSWORD,
               RNNCOURSE_HUB_ENV=str(HUB_ENV), RNNCOURSE_HUB_INSTRUCTOR=names["instructor"],
               RNNCOURSE_HUB_STUDENTS=f"{names['student1']},{names['student2']}",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    env.pop("MPLBACKEND", None)
    log = root / "jupyterhub.log"
    hubsetup = load_hubsetup()
    with open(log, "w") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(HUB_CONFIG)],
                                   cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        lab.wait_http(f"{base}/hub/api", 240, process, log)
        for name in names.values():           # terminals keep their text readable (see labdriver)
            settings = lab.terminal_settings_file(root / "hub" / "home" / name / ".jupyter" / "lab" / "user-settings")
            settings.parent.mkdir(parents=True, exist_ok=True)
            settings.write_text(json.dumps({"screenReaderMode": True}))
            hubsetup.chown_tree(root / "hub" / "home" / name / ".jupyter", *uid_gid(name))
        yield base, root / "hub", names
    finally:
        lab.stop(process, timeout=30)
        stop_leftovers(root / "hub", names)
        hubsetup.remove(root / "hub")
        shutil.rmtree(root, ignore_errors=True)


def uid_gid(name):
    import pwd
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def stop_leftovers(root, names):
    """Stop what the hub could not stop: its proxy, and processes of the test's own accounts (by pid)."""
    import pwd
    pids = []
    pid_file = root / "state" / "proxy.pid"
    if pid_file.exists() and pid_file.read_text().strip().isdigit():
        pids.append(int(pid_file.read_text().strip()))
    uids = set()
    for name in names.values():
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            pass
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if proc.stat().st_uid in uids:
                    pids.append(int(proc.name))
            except FileNotFoundError:
                pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def solution_source(grade_id):
    notebook = json.loads((lab.REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    return next(lab.without_markers("".join(cell["source"])) for cell in notebook["cells"]
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def cell_index(path, grade_id):
    notebook = json.loads(path.read_text())
    return next(i for i, cell in enumerate(notebook["cells"])
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return context, page


def run_block(page, commands, who, timeout=300):
    """Type each command into the visible terminal; every one must succeed. Returns the screens."""
    screens = []
    for command in commands:
        status, screen = lab.terminal_run(page, command, timeout=timeout)
        assert status == 0, f"{who}'s terminal: {command!r} exited with {status}:\n{screen}"
        screens.append(screen)
    return screens


def test_a_term_on_the_hub_with_real_accounts(hub, browser, screenshots):
    base, root, names = hub
    instructor, student1, student2 = names["instructor"], names["student1"], names["student2"]
    home = root / "home"
    course = home / instructor / "course"
    blocks = guide_blocks()
    assert [role for role, _ in blocks] == ["instructor", "student", "instructor", "instructor", "instructor",
                                            "student", "instructor"], blocks
    release, fetch_submit, collect, grade, release_feedback, fetch_feedback, export = [c for _, c in blocks]

    # The instructor releases every assignment from the terminal, as the guide says.
    teacher_context, teacher = new_page(browser)
    student_context, student = new_page(browser)
    try:
        lab.hub_login(teacher, base, instructor, PASSWORD)
        lab.open_terminal(teacher)
        run_block(teacher, release, "the instructor")
        assert (root / "exchange" / "rnn" / "outbound" / ASSIGNMENT).is_dir()

        # student1, in the browser: lands on the course's page, fetches a1, writes one function, submits.
        lab.hub_login(student, base, student1, PASSWORD)
        student.locator(".jp-RenderedMarkdown h1").first.wait_for()
        lab.shot(student, screenshots, "hub-01-student-landing")
        assert lab.menu_labels(student, "Nbgrader") == ["Assignment List"]
        lab.menu(student, "Nbgrader", "Assignment List")
        released = student.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT)
        released.locator("button", has_text="Fetch").click()
        student.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()
        lab.shot(student, screenshots, "hub-02-fetched")
        notebook = home / student1 / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        lab.open_in_browser(student, ASSIGNMENT, notebook.name)
        index, source = cell_index(notebook, "sigmoid"), solution_source("sigmoid")
        lab.set_cell_source(student, index, source)
        lab.menu(student, "File", "Save Notebook")
        student.wait_for_function("() => !document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current')"
                                  ".classList.contains('jp-mod-dirty')", timeout=30_000)
        assert "".join(json.loads(notebook.read_text())["cells"][index]["source"]).strip() == source.strip()
        lab.menu(student, "Nbgrader", "Assignment List")
        fetched = student.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
        fetched.locator("button", has_text="Submit").first.click()
        student.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()
        lab.shot(student, screenshots, "hub-03-submitted")
    finally:
        student_context.close()

    # student2, in the terminal: what is not his is refused; the guide's student commands work.
    other_context, other = new_page(browser)
    try:
        lab.hub_login(other, base, student2, PASSWORD)
        lab.open_terminal(other)
        attempts = [f"ls {home / student1}", f"cat {home / student1 / ASSIGNMENT / notebook.name}",
                    f"ls {course / 'source'}", f"cat {course / 'gradebook.db'}",
                    f"cat {course / 'source' / ASSIGNMENT / notebook.name}",
                    f"cat {HUB_REPO / 'solutions' / ASSIGNMENT / notebook.name}",
                    f"ls {HUB_REPO / 'autograder' / 'samples'}", "ls $EXCHANGE/$ID/inbound"]
        for i, attempt in enumerate(attempts):
            status, screen = lab.terminal_run(other, attempt, clear=i == 0)
            screen = screen.split(attempt)[-1]
            assert status != 0 and "Permission denied" in screen, f"{attempt!r} was not refused:\n{screen}"
        lab.shot(other, screenshots, "hub-07-student-terminal-refused")
        run_block(other, fetch_submit, student2)

        # The instructor collects (no "cheating attempt": each submission is its student's own file),
        # grades with the course's pipeline, and releases the feedback.
        screens = run_block(teacher, collect, "the instructor")
        assert not any("cheating" in screen for screen in screens), screens
        for name in (student1, student2):
            assert (course / "submitted" / name / ASSIGNMENT / notebook.name).is_file()
        run_block(teacher, grade, "the instructor", timeout=600)
        lab.shot(teacher, screenshots, "hub-08-instructor-terminal-grade")
        run_block(teacher, release_feedback, "the instructor")
        run_block(other, fetch_feedback, student2)
        assert list((home / student2 / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        run_block(teacher, export, "the instructor")

        # student2 hands in again, with the guide's command: a notebook that calls the rnncore reference.
        again = home / student2 / ASSIGNMENT / notebook.name
        shutil.copyfile(HOSTILE / "calls_reference" / ASSIGNMENT / notebook.name, again)
        os.chown(again, *uid_gid(student2))
        run_block(other, [c for c in fetch_submit if "nbgrader submit" in c], student2)
    finally:
        other_context.close()

    rows = {line.split(",")[0]: line.split(",") for line in (course / "grading" / "grades.csv").read_text().splitlines()
            if line.split(",")[1:2] == [ASSIGNMENT]}
    score, max_score = float(rows[student1][2]), float(rows[student1][3])
    assert 0 < score < max_score and float(rows[student2][2]) == 0, rows
    assert {line.split(",")[3] for line in (course / "lms.csv").read_text().splitlines()[1:]} >= {student1, student2}

    # student1 fetches the feedback in the Assignment List and reads the score.
    context, page = new_page(browser)
    try:
        lab.hub_login(page, base, student1, PASSWORD)
        lab.menu(page, "Nbgrader", "Assignment List")
        page.locator("#submitted_assignments_list button", has_text="Fetch Feedback").first.click()
        feedback_link = page.locator("#submitted_assignments_list a", has_text="view feedback").first
        feedback_link.wait_for()
        lab.shot(page, screenshots, "hub-04-feedback-fetched")
        feedback_link.click()
        page.locator(".jp-BreadCrumbs", has_text="feedback").wait_for()
        lab.open_in_browser(page, f"{ASSIGNMENT}.html", from_root=False)
        viewer = page.frame_locator("#jp-main-dock-panel .jp-HTMLViewer:not(.lm-mod-hidden) iframe")
        viewer.locator("text=/баллы:/").first.wait_for()                     # the course's page is in Russian
        text = viewer.locator("body").inner_text()
        lab.shot(page, screenshots, "hub-05-feedback")
        numbers = re.search(rf"{ASSIGNMENT} \(баллы:\s*([\d.]+)\s*из\s*([\d.]+)\)", text)
        assert numbers, text[:2000]
        assert (float(numbers.group(1)), float(numbers.group(2))) == (score, max_score)
    finally:
        context.close()

    # The instructor's Formgrader reads the same gradebook. He collects student2's new submission there and
    # autogrades it: the judge grades it in the sandbox, and its score is in Manual Grading and the gradebook.
    from playwright.sync_api import expect
    try:
        assert {"Formgrader", "Assignment List"} <= set(lab.menu_labels(teacher, "Nbgrader"))
        lab.menu(teacher, "Nbgrader", "Formgrader")
        formgrader = teacher.frame_locator("#formgrader iframe")
        assignment_row = formgrader.locator("#main-table tr", has=formgrader.locator("td.name", has_text=ASSIGNMENT))
        assignment_row.wait_for()
        lab.shot(teacher, screenshots, "hub-06-instructor-formgrader")
        assignment_row.locator("td.collect a").click()
        close_modal(formgrader, "Successfully collected submissions")
        assert "rnncore" in (course / "submitted" / student2 / ASSIGNMENT / notebook.name).read_text()
        assignment_row.locator("td.num-submissions a").click()
        submission_row = formgrader.locator("#main-table tr", has=formgrader.locator("td.student-id", has_text=student2))
        submission_row.locator("td.autograde a").click()
        close_modal(formgrader, f"Successfully autograded '{ASSIGNMENT}' for student '{student2}'", timeout=600)
        expected = hostile_samples()["calls_reference"].expected_scores(ASSIGNMENT)
        total = f"{sum(expected.values()):g} / {sum(points for _, points in graded_cells(ASSIGNMENT)):g}"
        submission_row.locator("td.score", has_text=total).wait_for()
        lab.shot(teacher, screenshots, "hub-09-instructor-formgrader-autograded")

        formgrader.locator("a[href$='/formgrader/gradebook']").first.click()          # Manual Grading
        formgrader.locator(f"#main-table a[href$='/formgrader/gradebook/{ASSIGNMENT}']").click()
        formgrader.locator(f"#main-table a[href$='/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}']").click()
        # Names are hidden there ("Submission #N"); the row is the one whose hidden name is student2's.
        graded_row = formgrader.locator("#main-table tr", has=formgrader.locator("a.name-shown", has_text=student2))
        graded_row.locator("td.score", has_text=total).wait_for()
        graded_row.locator("a.name-hidden").click()                           # the graded notebook, cell by cell
        for grade_id, score in expected.items():            # the autograde's score is the manual score's placeholder
            score_field = formgrader.locator(f"input.score#{grade_id}")
            expect(score_field).to_have_attribute("placeholder", re.compile(r"\S"))
            shown = score_field.get_attribute("placeholder")
            assert float(shown) == score and score_field.input_value() == "", (grade_id, shown)
        # A test the reference call failed: the page shows the judge's verdict, the error output of the notebook the
        # worker graded (plain nbgrader, whose kernel imports rnncore, would have passed it).
        lost = next(grade_id for grade_id, score in expected.items() if score == 0)
        verdict = judged_error(course / "autograded" / student2 / ASSIGNMENT / notebook.name, lost)
        output = formgrader.locator("div.cell", has=formgrader.locator(f"input.score#{lost}")).locator(".output_error")
        expect(output).to_contain_text(verdict.splitlines()[0])
        # The screenshot in deploy/jupyterhub/README.md: the student's answer and the test's score, no hidden test.
        heading = formgrader.locator(".panel-heading", has=formgrader.locator(f"input.score#{lost}"))
        heading.evaluate("e => e.scrollIntoView({block: 'end'})")
        lab.shot(teacher, screenshots, "hub-10-instructor-manual-grading")
    finally:
        teacher_context.close()
    assert recorded(course / "gradebook.db", student2) == expected
    # nbgrader's late penalty of that autograde is the course calendar's (a1 was due in September 2026), as
    # `grade --calendar` writes it: the hub's Autograde uses the calendar's plugin.
    from autograder.term import calendar as term_calendar
    timestamp, score, max_score, penalty = late_submission(course / "gradebook.db", student2)
    late = term_calendar.late_penalty(term_calendar.load(course / "calendar.toml"), ASSIGNMENT, student2, timestamp,
                                      score, max_score)
    assert (penalty or 0.0) == pytest.approx(late.penalty), (timestamp, score, penalty, late)


def close_modal(frame, message, timeout=120):
    """Wait for Formgrader's answer to a button: its success dialog must say `message`; close it."""
    dialog = frame.locator("#success-modal, #error-modal").first
    dialog.wait_for(timeout=timeout * 1000)
    text = dialog.inner_text()
    assert message in text, text[-3000:]
    dialog.locator(".modal-footer button").click()
    dialog.wait_for(state="detached")


def judged_error(graded, grade_id):
    """The error message of a test cell in a notebook the worker graded (nbgrader's autograded/ copy)."""
    cell = next(c for c in json.loads(graded.read_text())["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    errors = [output for output in cell["outputs"] if output["output_type"] == "error"]
    assert errors and errors[0]["traceback"], cell["outputs"]
    return "\n".join(errors[0]["traceback"])


def recorded(gradebook, student):
    """{grade_id: score} of the student's a1 in the course's gradebook."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{gradebook}", "rnn") as gb:
        return {g.name: g.score for g in gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student).grades}


def late_submission(gradebook, student):
    """(submission time, score, max score, late penalty) of the student's a1 notebook in the course's gradebook."""
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{gradebook}", "rnn") as gb:
        notebook = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return (gb.find_submission(ASSIGNMENT, student).timestamp, float(notebook.score), float(notebook.max_score),
                notebook.late_submission_penalty)
