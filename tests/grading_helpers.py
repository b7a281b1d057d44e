"""Helpers for the grading tests: run the real pipeline and read what it wrote."""
import csv
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.judge import sandbox
from autograder.pipeline.grade import Settings, grade


def require_sandbox(scratch):
    """The sandbox probe; skip the test without a complete sandbox (fail instead when CI requires one)."""
    report = sandbox.probe(scratch)
    if not report.complete:
        message = "sandbox unavailable: " + "; ".join(report.missing)
        if os.environ.get("RNNCOURSE_REQUIRE_SANDBOX"):
            pytest.fail(message)
        pytest.skip(message)
    return report


def run_grading(submissions, out, jobs=2, timeout=20, **kwargs):
    """Grade with the real pipeline (quietly); returns the summary of report.json."""
    kwargs.setdefault("allow_unsandboxed", True)
    return grade(submissions, Settings(out=Path(out), jobs=jobs, timeout=timeout, progress=False, **kwargs))


def grades_by_submission(out):
    """{(student, assignment): row of grades.csv, with its parts from grades/<assignment>.csv, numbers as floats}."""
    rows = {}
    for path in [Path(out) / "grades.csv", *sorted((Path(out) / "grades").glob("*.csv"))]:
        with open(path) as f:
            for r in csv.DictReader(f):
                row = rows.setdefault((r["student_id"], r["assignment"]), {})
                row.update({k: float(v) for k, v in r.items() if k not in ("student_id", "assignment") and v != ""})
    return rows


def problem_kinds(out, student, assignment):
    report = json.loads((Path(out) / "report.json").read_text())
    return {p["kind"] for p in report["problems"] if p["student"] == student and p["assignment"] == assignment}


def feedback_text(out, student, assignment):
    import html
    import re
    path = Path(out) / "feedback" / student / assignment / f"{assignment}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def assert_sample_graded_as_specified(out, student, sample):
    """Does every test cell of every assignment of the sample have exactly its expected score?"""
    rows = grades_by_submission(out)
    for assignment in sample.notebooks:
        row = rows[(student, assignment)]
        expected = sample.expected_scores(assignment)
        got = {g: row[g] for g in expected}
        assert got == expected, f"{student}/{assignment}: cells differ: " + ", ".join(
            f"{g} got {got[g]} expected {expected[g]}" for g in expected if got[g] != expected[g])
        assert row["score"] == sum(expected.values())
        missing = set(sample.problems) - problem_kinds(out, student, assignment)
        assert not missing, f"{student}/{assignment}: report.json lacks {sorted(missing)}"


class ActiveContent(HTMLParser):
    """What a browser would run in a page: script bodies, event handlers, javascript: URLs, frames."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts, self.handlers, self.urls, self.frames = [], [], [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in_script = True
            self.scripts.append(dict(attrs).get("src") or "")
        if tag in ("iframe", "object", "embed", "frame"):
            self.frames.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{name}={value}")
            if value and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("javascript:", "vbscript:", "data:text/html")):
                self.urls.append(value)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def active_content(page):
    """The ActiveContent of an HTML page."""
    parser = ActiveContent()
    parser.feed(page)
    return parser
