"""The statistics pages in Chromium: every figure loads, nothing fails in the console, a student's page opens.

Data: the synthetic 200-student class of tests/term/synthetic_class.py with its calendar.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "term"))  # tests/term/: the synthetic class

from autograder.term import stats
from autograder.term import calendar as term_calendar  # noqa: E402


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    import synthetic_class as term_class
    folder, students = term_class.synthetic_class()
    target = tmp_path_factory.mktemp("stats")
    index = stats.write_stats(folder / "out", calendar=term_calendar.load(folder / "calendar.toml"), target=target)
    extended = next(s for s in students if s.profile == "extended")
    return index, extended


def open_page(browser, url, screenshot):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.goto(url)
    page.wait_for_load_state("load")
    page.screenshot(path=str(screenshot), full_page=True)
    return page, problems


def test_statistics_page_shows_every_figure_without_errors(browser, pages, screenshots):
    index, _ = pages
    page, problems = open_page(browser, index.as_uri(), screenshots / "stats-index.png")
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) == 10                                  # scores, 6 pass-rate charts, problems, late, timing
    for alt, complete, width, height in images:
        assert complete and width > 300 and height > 100, alt
    assert page.locator("h1").inner_text() == "Term statistics"
    assert page.locator("a[href^='students/']").count() == 200
    assert problems == []
    page.close()


def test_student_page_opens_from_the_statistics_page(browser, pages, screenshots):
    index, extended = pages
    page, problems = open_page(browser, index.as_uri(), screenshots / "stats-before-student.png")
    page.locator(f"a[href='students/{extended.id}.html']").click()
    page.wait_for_load_state("load")
    page.screenshot(path=str(screenshots / "stats-student.png"), full_page=True)
    assert page.locator("h1").inner_text().startswith("Итоги курса:")
    assert page.locator("html").get_attribute("lang") == "ru"
    assert "(продлён)" in page.locator("table").first.inner_text()
    assert page.locator("section.course-deadlines tr").count() == 7
    assert problems == []
    page.close()
