"""The course gradebook: one writer (the grading process), nbgrader's own database and export.

Workers grade into private SQLite files; `record` copies one result into the course gradebook
(SQLite by default, or any CourseDirectory.db_url such as PostgreSQL). `PartsCsvExport` is an
nbgrader export plugin that writes one row per student and assignment with a column per graded
part, which nbgrader's built-in CSV export does not give.
"""
import csv
import warnings

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

BASE_COLUMNS = ["student_id", "assignment", "score", "max_score"]


def record(db_url, result):
    """Store a result's scores in the gradebook (idempotent: the same result twice changes nothing)."""
    student, assignment = result["student"], result["assignment"]
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # SQLAlchemy autoflush notes from inside nbgrader
        gb.update_or_create_student(student)
        submission = gb.update_or_create_submission(assignment, student)
        scores = {(g["notebook"], g["grade_id"]): g["score"] for g in result["grades"]}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = scores.get((notebook.name, grade.name), 0.0)   # missing or not run: 0
        gb.db.commit()


def submission_score(db_url, student, assignment):
    """(score, max_score) of one submission as the gradebook computes it."""
    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return float(submission.score), float(submission.max_score)


def record_timestamp(db_url, student, assignment, timestamp):
    """Store when a submission was handed in (nbgrader's timestamp.txt text); nbgrader compares it with the due date."""
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student)
        gb.update_or_create_submission(assignment, student, timestamp=timestamp.strip())


def lateness(db_url, student, assignment):
    """(seconds after the due date, the due date) of a submission; (0, due date or None) when on time."""
    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return 0.0, None
        return float(submission.total_seconds_late), submission.duedate


class PartsCsvExport(ExportPlugin):
    """CSV with student_id, assignment, score, max_score and one column per graded cell (grade_id)."""

    def export(self, gradebook):
        rows, parts = [], []
        for assignment in gradebook.assignments:
            for notebook in assignment.notebooks:
                for cell in notebook.grade_cells:
                    if cell.name not in parts:
                        parts.append(cell.name)
            for submission in assignment.submissions:
                if self.student and submission.student.id not in self.student:
                    continue
                row = {"student_id": submission.student.id, "assignment": assignment.name,
                       "score": round(float(submission.score), 4), "max_score": round(float(submission.max_score), 4)}
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        row[grade.name] = round(float(grade.score), 4)
                rows.append(row)
        rows.sort(key=lambda r: (r["student_id"], r["assignment"]))
        with open(self.to, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=BASE_COLUMNS + parts, restval="")
            writer.writeheader()
            writer.writerows(rows)
        return rows


def export_csv(db_url, path):
    """Write the parts CSV of the whole gradebook to path; returns the rows."""
    with Gradebook(db_url) as gb:
        return PartsCsvExport(to=str(path)).export(gb)
