"""A student's first session in the student mode of JupyterLab, in headless Chromium.

JupyterLab runs on 127.0.0.1 with a token in a temporary copy of the course (lectures, assignments
and the README that serves as the landing page; never the solutions), with the student mode of
deploy/student-mode/ installed into a private configuration folder.
"""
import hashlib
import json
import re
import shutil
import subprocess
import sys

import pytest

import labdriver as lab

LECTURE = "01_neuron_and_layers.ipynb"
OTHER_LECTURE = "05_lstm_and_gru.ipynb"
ASSIGNMENT = "a1_neuron"
TOKEN = "student-flow-token"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    for folder in ("lectures", "assignments"):
        shutil.copytree(lab.REPO / folder, root / folder)
    for lecture in (root / "lectures").glob("*.ipynb"):
        lecture.chmod(0o444)                   # as the student edition and the course's hub store them
    shutil.copy2(lab.REPO / "README.md", root / "README.md")
    return root


@pytest.fixture(scope="module")
def student_lab(course, tmp_path_factory, browser):
    """The base URL of a JupyterLab in the student mode serving `course`; stopped after the module."""
    home = tmp_path_factory.mktemp("jupyter-home")
    prefix = home / "student-mode"
    prefix.mkdir()
    subprocess.run([sys.executable, str(lab.STUDENT_MODE / "install.py"), "--prefix", str(prefix), "--config-only"],
                   check=True, capture_output=True, text=True, timeout=60)
    process, base, log = lab.start_lab(course, home, TOKEN, prefix / "etc" / "jupyter")
    yield base
    lab.stop(process)


@pytest.fixture
def page(browser, student_lab):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
    lab.delete_sessions(student_lab, TOKEN)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def solution_sources(assignment):
    """grade_id -> source of every solution cell of solutions/<assignment>/<assignment>.ipynb."""
    notebook = json.loads((lab.REPO / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    return {cell["metadata"]["nbgrader"]["grade_id"]: lab.without_markers("".join(cell["source"]))
            for cell in notebook["cells"]
            if cell["metadata"].get("nbgrader", {}).get("solution")}



def student_cells(path):
    """(index, grade_id, is_test) of the nbgrader cells of a student notebook, in order."""
    notebook = json.loads(path.read_text())
    return [(i, cell["metadata"]["nbgrader"]["grade_id"], cell["metadata"]["nbgrader"].get("grade", False))
            for i, cell in enumerate(notebook["cells"]) if "nbgrader" in cell["metadata"]]


def test_landing_lecture_slider_and_unchanged_file(page, student_lab, course, screenshots):
    lecture = course / "lectures" / LECTURE
    original = {name: sha256(course / "lectures" / name) for name in (LECTURE, OTHER_LECTURE)}

    # The landing page: the course index, rendered, is what opens first.
    page.goto(f"{student_lab}/?token={TOKEN}")
    lab.wait_lab_ready(page)
    landing = page.locator(".jp-MarkdownViewer .jp-RenderedMarkdown")
    landing.locator("h1").first.wait_for()
    assert "README.md" in lab.current_tab(page).inner_text()
    # No news prompt, and no instructor menu without an exchange.
    assert page.locator(".jp-toast-message", has_text="news").count() == 0
    assert page.locator("#jp-menu-panel .lm-MenuBar-item", has_text="Nbgrader").count() == 0
    lab.shot(page, screenshots, "01-landing")

    # From the index to the lecture, as a student clicks.
    landing.locator("a", has_text="lectures/README.md").first.click()
    page.locator(".jp-RenderedMarkdown a", has_text=LECTURE.removesuffix(".ipynb")).first.click()
    page.wait_for_selector(f"{lab.VISIBLE_PANEL} .jp-Notebook-ExecutionIndicator")
    lab.wait_kernel_idle(page, timeout=60)
    assert_unchanged_after_opening(page, course / "lectures" / LECTURE, original[LECTURE])
    prompts = lab.run_all(page)
    assert prompts and all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts), prompts
    assert lab.error_outputs(page) == []

    # A slider works once the cells have run: moving it redraws the figure beside it.
    slider = page.locator(f"{lab.VISIBLE_PANEL} .widget-interact").first
    slider.scroll_into_view_if_needed()
    figure = slider.locator("img").first
    figure.wait_for()
    before = figure.get_attribute("src")
    lab.shot(page, screenshots, "02-lecture-ran")
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    page.wait_for_function("([node, old]) => { const img = node.querySelector('img');"
                           " return img && img.getAttribute('src') !== old; }",
                           arg=[slider.element_handle(), before], timeout=30_000)
    lab.wait_kernel_idle(page, timeout=30)
    lab.shot(page, screenshots, "03-slider-moved")
    assert slider.locator("img").first.get_attribute("src") != before

    # The lecture is read-only (JupyterLab says so on its toolbar); Validate, which saves first, is refused
    # the save with a message that says how to keep a copy, and runs nothing. The file is as it was.
    page.locator(f"{lab.VISIBLE_PANEL} .jp-NotebookPanel-toolbar", has_text="read-only").wait_for()
    page.locator(f"{lab.VISIBLE_PANEL} jp-button.validate-button").click()
    refusal = page.locator(".jp-Dialog", has_text="только для чтения")
    refusal.wait_for()
    assert "Save Notebook As" in refusal.inner_text()
    lab.shot(page, screenshots, "08-lecture-validate-read-only")
    while page.locator(".jp-Dialog").count():
        page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept, .jp-Dialog .jp-Dialog-button.jp-mod-reject").first.click()
        page.wait_for_timeout(500)
    assert sha256(lecture) == original[LECTURE], "the lecture was changed on disk by running it and pressing Validate"
    lab.close_tab(page, discard=True)
    lab.open_in_browser(page, "lectures", OTHER_LECTURE)
    lab.wait_kernel_idle(page, timeout=60)
    assert_unchanged_after_opening(page, course / "lectures" / OTHER_LECTURE, original[OTHER_LECTURE])
    lab.shot(page, screenshots, "07-lecture-reopened")
    lab.close_tab(page, discard=True)
    assert sha256(course / "lectures" / OTHER_LECTURE) == original[OTHER_LECTURE]


def assert_unchanged_after_opening(page, path, digest, settle_ms=3000):
    """The notebook open in the page is not marked modified, and its file still has `digest`."""
    page.wait_for_timeout(settle_ms)
    assert "jp-mod-dirty" not in lab.current_tab(page).get_attribute("class"), \
        f"{path.name} shows as modified right after opening (autosave would rewrite it)"
    assert sha256(path) == digest, f"{path.name} was rewritten on disk by opening it"


def test_assignment_validate_until_success(page, student_lab, course, screenshots):
    path = course / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    solutions = solution_sources(ASSIGNMENT)
    layout = student_cells(path)
    solution_cells = [(i, grade_id) for i, grade_id, is_test in layout if grade_id in solutions]
    tests = [grade_id for _, grade_id, is_test in layout if is_test]
    assert solution_cells and tests

    page.goto(f"{student_lab}/lab?reset&token={TOKEN}")
    lab.wait_lab_ready(page)
    lab.open_in_browser(page, "assignments", ASSIGNMENT, path.name)
    lab.wait_kernel_idle(page, timeout=60)

    # Untouched: every visible test fails, and Validate lists them.
    dialog, text, failed_before, success = lab.validate(page)
    lab.shot(page, screenshots, "04-validate-failures")
    assert not success and len(failed_before) == len(tests), text
    lab.close_dialog(page)

    # One function written in the editor: its test no longer fails.
    first_index, first_id = solution_cells[0]
    lab.set_cell_source(page, first_index, solutions[first_id])
    dialog, text, failed_one, success = lab.validate(page)
    lab.shot(page, screenshots, "05-validate-one-passes")
    assert not success and len(failed_one) == len(tests) - 1, text
    lab.close_dialog(page)

    # Everything written: Validate reports success.
    for index, grade_id in solution_cells[1:]:
        lab.set_cell_source(page, index, solutions[grade_id])
    # The screenshot shows the top of the notebook (the guide must not show solutions).
    lab.cells(page).first.scroll_into_view_if_needed()
    dialog, text, failed_all, success = lab.validate(page)
    lab.shot(page, screenshots, "06-validate-success")
    assert success and failed_all == [], text
    lab.close_dialog(page)
