"""The course gradebook: one writer (the grading process), nbgrader's own database and export.

Workers grade into private SQLite files; `record` copies one Result into the course gradebook
(SQLite by default, or PostgreSQL for several graders: `--db-url postgresql://...`, with the driver
psycopg 3 from the `postgres` extra). `check` refuses a gradebook that cannot be used before anything
is written. `PartsCsvExport` is an nbgrader export plugin that writes one row per student and
assignment with a column per graded part, which nbgrader's built-in CSV export does not give.
"""
import contextlib
import csv
import hashlib
import math
import os
import warnings
from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

BASE_COLUMNS = ["student_id", "assignment", "score", "max_score", "late_days", "penalty", "final_score"]
SCHEMES = ("sqlite", "postgresql")


class GradebookError(RuntimeError):
    """The gradebook cannot be used; the message says what and how to fix it."""


def _safe(db_url):
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url
    return make_url(db_url).render_as_string(hide_password=True)


def check_url(db_url):
    """Refuse a gradebook URL of another database kind, or one whose driver is not installed."""
    if not db_url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        url = make_url(db_url)
    except ArgumentError:
        raise GradebookError(f"--db-url {db_url!r} is not a database URL: write sqlite:///PATH or "
                             "postgresql://USER@HOST/DATABASE") from None
    if url.get_backend_name() not in SCHEMES:
        raise GradebookError(f"--db-url: a {url.get_backend_name()!r} gradebook is not supported: use sqlite:///PATH "
                             "or postgresql://USER@HOST/DATABASE")
    if url.get_backend_name() == "postgresql":
        try:
            url.get_dialect().import_dbapi()
        except ImportError as exc:
            raise GradebookError(f"--db-url {_safe(db_url)} needs the PostgreSQL driver ({exc}): "
                                 "pip install 'rnncore[postgres]' (psycopg 3)") from None


def check(db_url, course_id):
    """Refuse (GradebookError) a gradebook we cannot log in to, or one that holds another course."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import SQLAlchemyError
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            if "course" not in inspect(connection).get_table_names():
                return                                    # empty: nbgrader creates the tables
            courses = {row[0] for row in connection.execute(text("SELECT id FROM course"))}
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        if db_url.startswith("sqlite"):
            raise GradebookError(explain(exc, db_url)) from None
        raise GradebookError(f"cannot open the gradebook {_safe(db_url)}: {first}; check the user, the password, "
                             "the host and that the database exists (PostgreSQL: createdb)") from None
    finally:
        engine.dispose()
    others = sorted(courses - {course_id, "default_course"})
    if others:
        raise GradebookError(f"the gradebook {_safe(db_url)} belongs to the course {', '.join(others)}, not "
                             f"{course_id!r}: pass --course-id {others[0]} if it is this course, or use another "
                             "database for this one")


@contextlib.contextmanager
def exclusive(db_url):
    """Hold a lock on the gradebook while the block runs, against other graders on other machines.

    PostgreSQL: a session-level advisory lock. SQLite needs none: it is one grader's file.
    """
    if not db_url.startswith("postgresql"):
        yield
        return
    from sqlalchemy import create_engine, text
    key = int.from_bytes(hashlib.sha256(b"rnncourse-gradebook").digest()[:7], "big")   # fits a bigint
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()


def is_complete(path, assignments):
    """Is `path` a sound SQLite gradebook that knows every assignment? (A cached template is checked before use.)"""
    import sqlite3
    if not Path(path).is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return False
            names = {row[0] for row in db.execute("SELECT name FROM assignment")}
    except sqlite3.Error:
        return False
    return set(assignments) <= names


def is_complete_url(db_url, assignments):
    """Does the gradebook at db_url know every assignment?"""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            names = {row[0] for row in connection.execute(text("SELECT name FROM assignment"))}
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return set(assignments) <= names


def explain(exc, db_url):
    """One sentence for an error of the gradebook's database (locked, damaged, read-only), or "" if it is not one."""
    from sqlalchemy.exc import SQLAlchemyError
    import sqlite3
    if not isinstance(exc, (SQLAlchemyError, sqlite3.Error)):
        return ""
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
    where = _safe(db_url)
    if "locked" in text:
        return (f"the gradebook {where} is locked by another program (another grading run, formgrader, nbgrader): "
                "close it, then run again")
    if "not a database" in text or "malformed" in text:
        return (f"the gradebook {where} is damaged ({text}): move it away and run again (a new gradebook is filled "
                "from results/)")
    if "readonly" in text or "read-only" in text:
        return f"the gradebook {where} is read-only ({text}): make it writable or pass another --db-url"
    return f"the gradebook {where} failed ({text})"


def record(db_url, result, course_id):
    """Store a Result's scores (and submission time) in the gradebook (idempotent: the same result twice changes nothing)."""
    with Gradebook(db_url, course_id) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # SQLAlchemy autoflush notes from inside nbgrader
        gb.update_or_create_student(result.student)
        if result.submitted:
            submission = gb.update_or_create_submission(result.assignment, result.student,
                                                        timestamp=datetime.fromisoformat(result.submitted))
        else:
            submission = gb.update_or_create_submission(result.assignment, result.student)
        scores = {(g.notebook, g.grade_id): g.score for g in result.grades}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = scores.get((notebook.name, grade.name), 0.0)   # missing or not run: 0
        gb.db.commit()


def submission_score(db_url, student, assignment, course_id):
    """(score, max_score) of one submission as the gradebook computes it."""
    with Gradebook(db_url, course_id) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return float(submission.score), float(submission.max_score)


def lateness(db_url, student, assignment, course_id):
    """(seconds after the due date, the due date) of a submission; (0, due date or None) when on time."""
    with Gradebook(db_url, course_id) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return 0.0, None
        return float(submission.total_seconds_late), submission.duedate


def apply_calendar(calendar, db_url, course_id):
    """Write the calendar into nbgrader's gradebook: each assignment's due date, each submission's extension,
    and each submitted notebook's late penalty (through CalendarLatePenalty). Formgrader and `nbgrader export`
    then show the final scores (export: raw_score, late_submission_penalty, score). Idempotent.

    Returns [GradebookLate] for every submission of an assignment the calendar has a due date for.
    """
    from ..term.calendar import CalendarLatePenalty, GradebookLate, utc_naive
    plugin = CalendarLatePenalty(calendar=calendar)
    rows = []
    with Gradebook(db_url, course_id) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")                        # SQLAlchemy autoflush notes from inside nbgrader
        for assignment in gb.assignments:
            deadline = calendar.deadlines.get(assignment.name)
            if deadline is None:
                continue
            assignment.duedate = utc_naive(deadline.due)
            for submission in assignment.submissions:
                extension = calendar.extensions.get((submission.student.id, assignment.name))
                submission.extension = (extension.due - deadline.due) if extension else None
        gb.db.commit()
        for assignment in gb.assignments:
            if assignment.name not in calendar.deadlines:
                continue
            for submission in assignment.submissions:
                seconds = float(submission.total_seconds_late)
                total = 0.0
                for notebook in submission.notebooks:
                    penalty = plugin.penalty(assignment.name, float(notebook.score), float(notebook.max_score), seconds)
                    penalty = None if penalty is None else min(max(penalty, 0.0), float(notebook.score))
                    notebook.late_submission_penalty = penalty
                    total += penalty or 0.0
                rows.append(GradebookLate(submission.student.id, assignment.name, seconds, float(submission.score), total))
        gb.db.commit()
    return rows



class PartsCsvExport(ExportPlugin):
    """The grades as CSV: `to` gets a row per student and assignment with student_id, assignment, score (before any
    late penalty), max_score, late_days (a started day counts), penalty (points, nbgrader's
    late_submission_penalty) and final_score; beside it, grades/<assignment>.csv has the same rows of one
    assignment and a column per graded cell of that assignment (and no other)."""

    def export(self, gradebook):
        rows, by_assignment = [], {}
        for assignment in gradebook.assignments:
            parts = [cell.name for notebook in assignment.notebooks for cell in notebook.grade_cells]
            these = []
            for submission in assignment.submissions:
                if self.student and submission.student.id not in self.student:
                    continue
                penalty = float(submission.late_submission_penalty or 0.0)
                row = {"student_id": submission.student.id, "assignment": assignment.name,
                       "score": round(float(submission.score), 4), "max_score": round(float(submission.max_score), 4),
                       "late_days": math.ceil(float(submission.total_seconds_late) / 86400), "penalty": round(penalty, 4),
                       "final_score": round(float(submission.score) - penalty, 4)}
                these.append((row, {grade.name: round(float(grade.score), 4)
                                    for notebook in submission.notebooks for grade in notebook.grades}))
            by_assignment[assignment.name] = (parts, sorted(these, key=lambda r: r[0]["student_id"]))
            rows += [row for row, _ in these]
        rows.sort(key=lambda r: (r["student_id"], r["assignment"]))
        _write_csv(Path(self.to), BASE_COLUMNS, rows)
        for name, (parts, these) in by_assignment.items():
            if these:
                _write_csv(Path(self.to).parent / "grades" / f"{name}.csv", BASE_COLUMNS + parts,
                           [{**row, **scores} for row, scores in these])
        return rows


def _write_csv(path, columns, rows):
    """A CSV file written atomically (a temporary name, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        with open(scratch, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def export_csv(db_url, path, course_id):
    """Write grades.csv (and grades/<assignment>.csv beside it) from the whole gradebook; returns the rows."""
    with Gradebook(db_url, course_id) as gb:
        return PartsCsvExport(to=str(path)).export(gb)
