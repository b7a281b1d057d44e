"""What a grading run left behind, read back for the statistics and the LMS export.

A grading output folder OUT (`python -m autograder grade ... --out OUT`) holds
    grades.csv      student_id, assignment, score, max_score (grades/<assignment>.csv: also a column per graded
                    cell; an older grades.csv may hold those columns itself); when the calendar is
                    applied by `grade`, also raw_score, final_score, late_days (a final_score column, when
                    present, is the score that counts; otherwise score is)
    report.json     {"submissions": [{student, assignment, score, max_score, problems: [kind]}],
                     "problems": [{student, assignment, kind, detail, notebook}]}
    results/<student>/<assignment>.json   one Result each: grades [{notebook, grade_id, score, max_score}],
                    problems, feedback {notebook: HTML}, timing {..._seconds: float}
    gradebook.db    nbgrader's gradebook (submission times: nbgrader's timestamp of each submission)

`load_term` reads all of it into a Term. Everything is optional but grades.csv: a missing report or
results folder only leaves those parts of the statistics empty. Failure messages are read from the
feedback pages in the results (the output of each failed test cell); a grade that carries its own
`message` is used instead, and `messages` ({assignment: {grade_id: [message, ...]}}) can be given.
"""
import csv
import hashlib
import html
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import calendar as term_calendar

BASE_COLUMNS = ("student_id", "assignment", "score", "max_score")
EXTRA_COLUMNS = ("raw_score", "final_score", "late_days", "penalty", "submitted_at", "due", "extended",
                 "late_submission_penalty", "penalty_percent")


class TermDataError(ValueError):
    """A grading output folder cannot be read; the message says which file and why."""


@dataclass
class Submission:
    """One student's graded assignment."""
    student: str
    assignment: str
    raw_score: float
    max_score: float
    final_score: float
    parts: dict = field(default_factory=dict)             # {grade_id: score}
    part_max: dict = field(default_factory=dict)          # {grade_id: max score}
    problems: list = field(default_factory=list)          # [kind]
    late: object = None                                   # term_calendar.Late, when known
    late_days: int = 0
    submitted_at: object = None                           # aware datetime or None
    grading_seconds: float = None


@dataclass
class Term:
    """A grading run: submissions, the tests of each assignment, problems, failure messages."""
    out: Path
    submissions: list
    tests: dict                                           # {assignment: [(grade_id, max score)]} in notebook order
    problems: list                                        # report.json's problem rows
    messages: dict                                        # {assignment: {grade_id: Counter(message)}}
    students: list                                        # every student: the roster's, then the graded ones
    calendar: object = None
    roster: dict = None

    @property
    def assignments(self):
        found = {s.assignment for s in self.submissions} | set(self.tests)
        if self.calendar is not None:
            found |= set(self.calendar.deadlines)
        order = {a: i for i, a in enumerate(_course_order())}
        return sorted(found, key=lambda a: (order.get(a, len(order)), a))

    def by_student(self):
        table = defaultdict(dict)
        for s in self.submissions:
            table[s.student][s.assignment] = s
        return table


def _course_order():
    try:
        from ..course import Course
        return Course.here().assignment_ids
    except OSError:
        return []


def _float(text, where):
    try:
        return float(text)
    except (TypeError, ValueError):
        raise TermDataError(f"{where}: {text!r} is not a number") from None


def read_grades_csv(path):
    """Rows of grades.csv as dicts: student, assignment, raw_score, max_score, final_score, parts {grade_id: score},
    and whatever late columns it has. final_score is the final_score column when present, else score."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise TermDataError(f"{path}: not found; run `python -m autograder grade ... --out {path.parent}` first") from None
    missing = [c for c in BASE_COLUMNS if c not in header]
    if missing:
        raise TermDataError(f"{path}: not a grades.csv of the grader: no column {', '.join(missing)}")
    out = []
    for n, row in enumerate(rows, 2):
        where = f"{path}:{n}"
        score = _float(row["score"], where)
        raw = _float(row["raw_score"], where) if row.get("raw_score") not in (None, "") else score
        final = _float(row["final_score"], where) if row.get("final_score") not in (None, "") else score
        parts = {k: _float(v, where) for k, v in row.items()
                 if k not in BASE_COLUMNS and k not in EXTRA_COLUMNS and k and v not in (None, "")}
        extra = {k: row[k] for k in EXTRA_COLUMNS if row.get(k) not in (None, "") and k not in ("raw_score", "final_score")}
        out.append({"student": row["student_id"], "assignment": row["assignment"], "raw_score": raw,
                    "max_score": _float(row["max_score"], where), "final_score": final, "parts": parts,
                    "final_column": "final_score" in header, **extra})
    return out, [c for c in header if c not in BASE_COLUMNS and c not in EXTRA_COLUMNS]


def submission_times(db_url, course_id):
    """{(student, assignment): aware submission time} from nbgrader's gradebook (only submissions with a time)."""
    from nbgrader.api import Gradebook
    times = {}
    with Gradebook(db_url, course_id) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                if submission.timestamp is not None:
                    times[(submission.student.id, assignment.name)] = term_calendar._aware(submission.timestamp)
    return times


def grading_seconds(timing):
    """The time one submission took to grade: timing's total_seconds, else the sum of its *_seconds entries."""
    if not isinstance(timing, dict):
        return None
    if isinstance(timing.get("total_seconds"), (int, float)):
        return float(timing["total_seconds"])
    values = [v for k, v in timing.items() if k.endswith("_seconds") and isinstance(v, (int, float))]
    return float(sum(values)) if values else None


CELL = re.compile(r'<div class="cell border-box-sizing')
GRADE_ANCHOR = re.compile(r'<a name="([^"]+)"></a><div class="panel-heading">')
ERROR_OUTPUT = re.compile(r'<div class="output_subarea output_text output_error">\s*<pre>(.*?)</pre>', re.DOTALL)


def failure_messages_from_feedback(feedback_html):
    """{grade_id: message} of the failed test cells of one feedback page: the last line of each cell's error output
    (e.g. 'AssertionError: relu_grad: relu_grad(x) differs from the reference ...')."""
    found = {}
    for chunk in CELL.split(feedback_html)[1:]:
        anchor = GRADE_ANCHOR.search(chunk)
        error = ERROR_OUTPUT.search(chunk)
        if not anchor or not error:
            continue
        text = html.unescape(re.sub(r"<[^>]+>", "", error.group(1)))
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if lines:
            found[anchor.group(1)] = lines[-1][:300]
    return found


def load_term(out, calendar=None, db_url=None, course_id=None, messages=None):
    """Read a grading output folder (see the module docstring) into a Term.

    calendar: a term_calendar.Calendar: late days and penalties from it and the gradebook's submission times
    (without one, grades.csv's final_score and late columns are used when it has them). db_url: the gradebook (default
    sqlite OUT/gradebook.db). messages: failure messages {assignment: {grade_id: [message]}} to use besides the
    ones the results carry.
    """
    from ..course import COURSE_ID
    out = Path(out)
    rows, part_columns = read_grades_csv(out / "grades.csv")
    for path in sorted((out / "grades").glob("*.csv")):             # the parts of each assignment, beside grades.csv
        parts = {(r["student"], r["assignment"]): r["parts"] for r in read_grades_csv(path)[0]}
        for row in rows:
            row["parts"].update(parts.get((row["student"], row["assignment"]), {}))
    report = _read_json(out / "report.json") or {}
    problems = report.get("problems", [])
    kinds = {(r["student"], r["assignment"]): list(r.get("problems", [])) for r in report.get("submissions", [])}
    results = {}
    for path in sorted(out.glob("results/*/*.json")):             # a Result is named by its path, as grade names it
        data = _read_json(path)
        if isinstance(data, dict):
            results[(path.parent.name, path.stem)] = data
    times = {}
    has_final = calendar is None and any(r["final_column"] for r in rows)   # a calendar given here decides
    db = db_url or (f"sqlite:///{out / 'gradebook.db'}" if (out / "gradebook.db").exists() else "")
    if db and calendar is not None and not has_final:
        times = submission_times(db, course_id or COURSE_ID)

    tests, parsed = {}, {}                                         # parsed: feedback pages by digest
    counted = defaultdict(lambda: defaultdict(Counter))
    for (student, assignment), data in results.items():
        grades = [g for g in data.get("grades", []) if isinstance(g, dict)]
        if assignment not in tests and grades:
            tests[assignment] = [(g["grade_id"], float(g.get("max_score", 0))) for g in grades]
        failed = {g["grade_id"] for g in grades if float(g.get("score", 0)) < float(g.get("max_score", 0))}
        own = {g["grade_id"]: g["message"] for g in grades if g.get("message")}
        failures = data.get("failures") if isinstance(data.get("failures"), dict) else {}
        own.update({k: str(v).splitlines()[-1][:200] for k, v in failures.items() if str(v).strip()})
        pages = {}
        if failed - set(own):
            for page in (data.get("feedback") or {}).values():
                digest = hashlib.sha256(page.encode()).digest()
                if digest not in parsed:
                    parsed[digest] = failure_messages_from_feedback(page)
                pages.update(parsed[digest])
        for grade_id in failed:
            counted[assignment][grade_id][own.get(grade_id) or pages.get(grade_id) or "(no error message)"] += 1
    for assignment, table in (messages or {}).items():
        for grade_id, texts in table.items():
            counted[assignment][grade_id].update(texts)

    submissions = []
    for row in rows:
        key = (row["student"], row["assignment"])
        result = results.get(key, {})
        part_max = {g["grade_id"]: float(g.get("max_score", 0)) for g in result.get("grades", []) if isinstance(g, dict)}
        if row["assignment"] not in tests:
            tests[row["assignment"]] = [(g, part_max.get(g, float("nan"))) for g in row["parts"]]
        s = Submission(row["student"], row["assignment"], row["raw_score"], row["max_score"], row["final_score"],
                       row["parts"], part_max, kinds.get(key, []),
                       grading_seconds=grading_seconds(result.get("timing")))
        if "late_days" in row:
            s.late_days = int(float(row["late_days"]))
        if row.get("submitted_at"):
            s.submitted_at = term_calendar.parse_timestamp(row["submitted_at"])
        if calendar is not None and row["assignment"] in calendar.deadlines:
            submitted = s.submitted_at or times.get(key)
            s.late = term_calendar.late_penalty(calendar, row["assignment"], row["student"], submitted,
                                                row["raw_score"], row["max_score"])
            s.submitted_at = submitted
            if not has_final:
                s.final_score, s.late_days = s.late.final_score, s.late.late_days
        submissions.append(s)
    roster = calendar.roster if calendar is not None else None
    students = list(dict.fromkeys([*(roster or {}), *sorted({s.student for s in submissions})]))
    return Term(out, submissions, tests, problems, {a: dict(t) for a, t in counted.items()}, students, calendar, roster)


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TermDataError(f"{path}: cannot be read ({exc})") from None
