"""The course on JupyterHub (deploy/jupyterhub/), end to end through nbgrader's exchange.

The demo hub runs on 127.0.0.1 (DummyAuthenticator, local processes, the PyPI proxy). The instructor
releases a1 and later collects, grades with `python -m autograder grade` into the course's gradebook
and feedback/ folder, and releases the feedback, all on the command line as the instructor's server
would; the student does everything in Chromium: log in, fetch a1 in the Assignment List, write one
function, submit, fetch the feedback and read the score.
"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import labdriver as lab

HUB_CONFIG = lab.REPO / "deploy" / "jupyterhub" / "jupyterhub_config.py"
PASSWORD = "browser-test"
STUDENT = "student1"
ASSIGNMENT = "a1_neuron"


def hub_env(root, port):
    env = dict(os.environ)
    env.update(RNNCOURSE_HUB_ROOT=str(root), RNNCOURSE_HUB_PORT=str(port), RNNCOURSE_HUB_PASSWORD=PASSWORD,
               RNNCOURSE_HUB_STUDENTS=STUDENT,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    env.pop("MPLBACKEND", None)
    return env


@pytest.fixture(scope="module")
def hub(tmp_path_factory, browser):
    """(base URL, state folder) of the demo hub; the hub, its proxy and every server stop after the module."""
    if shutil.which("jupyterhub", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("JupyterHub is not installed: pip install -e '.[browser]'")
    root = tmp_path_factory.mktemp("hub")
    port = lab.free_port()
    log = root / "jupyterhub.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(HUB_CONFIG)],
                                   cwd=root, env=hub_env(root, port), stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        lab.wait_http(f"{base}/hub/api", 120, process, log)
        yield base, root
    finally:
        lab.stop(process, timeout=30)
        stop_leftovers(root)


def stop_leftovers(root):
    """Stop what the hub started if it could not stop it: the proxy and the users' servers.

    Their process ids are in the hub's state folder (the proxy's pid file, the spawners' state in
    jupyterhub.sqlite); nothing else is touched.
    """
    pids = []
    pid_file = root / "proxy.pid"
    if pid_file.exists() and pid_file.read_text().strip().isdigit():
        pids.append(int(pid_file.read_text().strip()))
    database = root / "jupyterhub.sqlite"
    if database.exists():
        with sqlite3.connect(database) as connection:
            for (state,) in connection.execute("SELECT state FROM spawners"):
                pid = json.loads(state or "{}").get("pid")
                if pid:
                    pids.append(int(pid))
    for pid in pids:
        cmdline = Path(f"/proc/{pid}/cmdline")
        try:
            if any(name in cmdline.read_bytes() for name in (b"jupyterhub-singleuser", b"configurable-http-proxy")):
                os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass


def as_instructor(root, *command, timeout=300):
    """Run a command in the instructor's course folder with the instructor's configuration."""
    course = root / "home" / "instructor" / "course"
    env = hub_env(root, 0)
    env.update(JUPYTER_CONFIG_PATH=str(root / "config" / "instructor"), JUPYTERHUB_USER="instructor")
    result = subprocess.run(list(command), cwd=course, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def solution_source(grade_id):
    notebook = json.loads((lab.REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    return next(lab.without_markers("".join(cell["source"])) for cell in notebook["cells"]
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def cell_index(path, grade_id):
    notebook = json.loads(path.read_text())
    return next(i for i, cell in enumerate(notebook["cells"])
                if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def test_release_fetch_submit_grade_feedback(hub, browser, screenshots, tmp_path):
    base, root = hub
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    as_instructor(root, nbgrader, "release_assignment", ASSIGNMENT)

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        # The student logs in and lands on the course's page, in the student mode.
        lab.hub_login(page, base, STUDENT, PASSWORD)
        page.locator(".jp-RenderedMarkdown h1").first.wait_for()
        lab.shot(page, screenshots, "hub-01-student-landing")

        # Assignment List: fetch a1.
        assert lab.menu_labels(page, "Nbgrader") == ["Assignment List"]
        lab.menu(page, "Nbgrader", "Assignment List")
        released = page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT)
        released.locator("button", has_text="Fetch").click()
        page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first.wait_for()
        lab.shot(page, screenshots, "hub-02-fetched")

        # Write one function in the editor and save.
        notebook = root / "home" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        lab.open_in_browser(page, ASSIGNMENT, notebook.name)
        index, source = cell_index(notebook, "sigmoid"), solution_source("sigmoid")
        lab.set_cell_source(page, index, source)
        lab.menu(page, "File", "Save Notebook")
        page.wait_for_function("() => !document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current')"
                               ".classList.contains('jp-mod-dirty')", timeout=30_000)
        saved = json.loads(notebook.read_text())["cells"][index]["source"]
        assert "".join(saved).strip() == source.strip()

        # Submit from the Assignment List.
        lab.menu(page, "Nbgrader", "Assignment List")
        fetched = page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).first
        fetched.locator("button", has_text="Submit").first.click()
        submitted = page.locator("#submitted_assignments_list .list_item", has_text=ASSIGNMENT).first
        submitted.wait_for()
        lab.shot(page, screenshots, "hub-03-submitted")

        # The instructor collects, grades with the course's pipeline, and releases the feedback.
        course = root / "home" / "instructor" / "course"
        as_instructor(root, nbgrader, "collect", ASSIGNMENT)
        assert (course / "submitted" / STUDENT / ASSIGNMENT / notebook.name).exists()
        grade = [sys.executable, "-m", "autograder", "grade", str(course / "submitted"),
                 "--out", str(tmp_path / "grading"), "--db-url", f"sqlite:///{course / 'gradebook.db'}",
                 "--feedback-dir", str(course / "feedback"), "--jobs", "1", "--quiet"]
        if shutil.which("bwrap") is None:
            grade.append("--allow-unsandboxed")
        as_instructor(root, *grade)
        grades = (tmp_path / "grading" / "grades.csv").read_text()
        row = next(line for line in grades.splitlines() if line.startswith(f"{STUDENT},{ASSIGNMENT},"))
        score, max_score = (float(v) for v in row.split(",")[2:4])
        assert 0 < score < max_score, row
        as_instructor(root, nbgrader, "release_feedback", ASSIGNMENT)

        # The student fetches the feedback and sees the score.
        lab.menu(page, "Nbgrader", "Assignment List")
        page.locator("#submitted_assignments_list button", has_text="Fetch Feedback").first.click()
        feedback_link = page.locator("#submitted_assignments_list a", has_text="view feedback").first
        feedback_link.wait_for()
        lab.shot(page, screenshots, "hub-04-feedback-fetched")
        # "view feedback" shows the feedback's folder in the file browser; the student opens the page.
        feedback_link.click()
        page.locator(".jp-BreadCrumbs", has_text="feedback").wait_for()
        lab.open_in_browser(page, f"{ASSIGNMENT}.html", from_root=False)
        viewer = page.frame_locator("#jp-main-dock-panel .jp-HTMLViewer:not(.lm-mod-hidden) iframe")
        title = viewer.locator("text=/Score:/").first
        title.wait_for()
        text = viewer.locator("body").inner_text()
        lab.shot(page, screenshots, "hub-05-feedback")
        numbers = re.search(r"Score:\s*([\d.]+)\s*/\s*([\d.]+)", text)
        assert numbers, text[:2000]
        assert (float(numbers.group(1)), float(numbers.group(2))) == (score, max_score)
    finally:
        context.close()

    # The instructor's JupyterLab has Formgrader, which reads the course's gradebook.
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        lab.hub_login(page, base, "instructor", PASSWORD)
        assert {"Formgrader", "Assignment List"} <= set(lab.menu_labels(page, "Nbgrader"))
        lab.menu(page, "Nbgrader", "Formgrader")
        formgrader = page.frame_locator("#formgrader iframe")
        formgrader.locator("td", has_text=ASSIGNMENT).first.wait_for()
        lab.shot(page, screenshots, "hub-06-instructor-formgrader")
    finally:
        context.close()
