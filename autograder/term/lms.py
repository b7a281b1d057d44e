"""python -m autograder export: the final scores, written into the LMS's own gradebook export for its import.

An LMS imports grades best from the file it exports: download the gradebook (Moodle: Grades → Export →
Plain text file; Canvas: Grades → Export → Export Entire Gradebook), and `export` fills in the columns of
the course's assignments, leaving every student row, every other column, the delimiter, the encoding
and the line endings as they were. Then import that file (Moodle: Grades → Import → CSV file; Canvas:
Grades → Import).

    Moodle  the identifying columns are Username / ID number / Email address (or their Russian names);
            a grade item's column is "Assignment: <name> (Real)" (an activity) or "<name> (Real)" (a manual
            item). Grades are written in points as graded (out of max_score), or rescaled with out_of.
    Canvas  the leading columns are Student, ID, SIS User ID, SIS Login ID[, Integration ID], Section; an
            assignment's column is "<name> (<id>)"; the row "Points Possible" gives each assignment's points,
            and scores are rescaled to them. Read-only columns (totals) are never touched.

A student is matched to an LMS row when the student id or the roster's email equals one of the row's
identifying values (case-insensitive). An assignment is matched to a column by its id or its calendar
title, or explicitly (columns={assignment: header}). Nothing is dropped silently: the ExportReport lists
graded students with no LMS row, LMS rows with no grades, assignments with no column and ambiguous matches.
"""
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import data as term_data

CANVAS_LEADING = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_IDENTITY = ("SIS Login ID", "SIS User ID", "ID", "Integration ID")
MOODLE_IDENTITY = ("Username", "ID number", "Email address", "Имя пользователя", "Логин", "Индивидуальный номер",
                   "Адрес электронной почты")
MOODLE_NOT_GRADES = {"First name", "Last name", "Surname", "Institution", "Department", "Email address", "ID number",
                     "Username", "Last downloaded from this course", "Имя", "Фамилия", "Учреждение (организация)",
                     "Отдел", "Адрес электронной почты", "Индивидуальный номер", "Имя пользователя",
                     "Последняя загрузка из этого курса"}
CANVAS_POINTS_ROW = "Points Possible"
TOTAL = re.compile(r"(course total|итоговая оценка за курс|current (points|score|grade)|final (points|score|grade)|"
                   r"unposted|override)", re.IGNORECASE)


class ExportError(ValueError):
    """The LMS file cannot be used; the message says what and how to fix it."""


@dataclass
class ExportReport:
    lms: str
    target: Path
    columns: dict                                            # {assignment: LMS column header}
    filled: int = 0                                          # cells written
    students_matched: list = field(default_factory=list)
    students_without_row: list = field(default_factory=list)  # graded, but no LMS row
    rows_without_grades: list = field(default_factory=list)   # LMS rows (their identifying text) with no grade
    assignments_without_column: list = field(default_factory=list)
    ambiguous: list = field(default_factory=list)             # messages
    left_empty: dict = field(default_factory=dict)            # {assignment: rows of matched students without a grade}

    def lines(self):
        """The summary the CLI prints."""
        out = [f"{self.lms} import file: {self.target}",
               f"  {self.filled} grade(s) written for {len(self.students_matched)} student(s) into "
               f"{len(self.columns)} column(s)"]
        out += [f"    {a} -> {h!r}" for a, h in self.columns.items()]
        if self.assignments_without_column:
            out.append(f"  assignments with no column in the LMS file (not exported; add the grade item in the LMS, or "
                       f"give --column ASSIGNMENT=HEADER): {', '.join(self.assignments_without_column)}")
        if self.students_without_row:
            out.append(f"  graded students with no row in the LMS file (not exported): "
                       f"{', '.join(self.students_without_row)}")
        if self.rows_without_grades:
            out.append(f"  LMS rows with no grade here (left as they were): {', '.join(self.rows_without_grades)}")
        for a, n in self.left_empty.items():
            if n:
                out.append(f"  {a}: {n} matched student(s) without a submission (cell left as it was; --missing-zero "
                           "writes 0)")
        out += [f"  AMBIGUOUS (not written): {m}" for m in self.ambiguous]
        return out


def _norm(text):
    return re.sub(r"\s+", " ", str(text or "")).strip().casefold()


def read_lms_file(path):
    """(rows as lists, dialect facts) of an LMS export, keeping what writing it back needs."""
    raw = Path(path).read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportError(f"{path}: not UTF-8 text; export the gradebook from the LMS as UTF-8 CSV") from None
    first = text.splitlines()[0] if text else ""
    if not first:
        raise ExportError(f"{path}: empty; export the gradebook from the LMS first")
    delimiter = max([",", ";", "\t"], key=first.count)
    newline = "\r\n" if "\r\n" in text[:10000] else "\n"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return rows, {"bom": bom, "delimiter": delimiter, "newline": newline}


def write_lms_file(path, rows, dialect):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=dialect["delimiter"], lineterminator=dialect["newline"])
    writer.writerows(rows)
    Path(path).write_bytes((b"\xef\xbb\xbf" if dialect["bom"] else b"") + buffer.getvalue().encode("utf-8"))


def detect(header):
    """'canvas' or 'moodle' from an export's header row (ExportError if neither)."""
    names = [h.strip() for h in header]
    if {"Student", "SIS Login ID"} <= set(names) or names[:2] == ["Student", "ID"]:
        return "canvas"
    if any(_norm(h) in {_norm(x) for x in MOODLE_IDENTITY} for h in names):
        return "moodle"
    raise ExportError("the file is neither a Canvas gradebook export (Student, ID, SIS User ID, SIS Login ID, Section, "
                      "...) nor a Moodle one (an Email address, Username or ID number column): export the gradebook "
                      "from the LMS and give that file")


def _column_name(header, lms):
    """The grade item's name in a column header, or None for a column that is not a grade item."""
    h = header.strip()
    if lms == "canvas":
        if h in CANVAS_LEADING or h in CANVAS_IDENTITY or TOTAL.search(h):
            return None
        match = re.fullmatch(r"(.*\S)\s+\((\d+)\)", h)
        return match.group(1) if match else None
    if h in MOODLE_NOT_GRADES or TOTAL.search(h):
        return None
    h = re.sub(r"\s*\([^()]*\)$", "", h)                   # " (Real)", " (Значение)", " (Percentage)"
    h = re.sub(r"^[^:]{1,40}:\s*", "", h)                    # "Assignment: ", "Задание: ", "Quiz: "
    return h


def match_columns(header, lms, assignments, titles=None, explicit=None):
    """{assignment: column index}: explicit headers first, else the column whose item name is the id or the title."""
    titles, explicit = titles or {}, explicit or {}
    found = {}
    for assignment in assignments:
        if assignment in explicit:
            wanted = explicit[assignment].strip()
            hits = [i for i, h in enumerate(header) if h.strip() == wanted]
            if not hits:
                raise ExportError(f"--column {assignment}={wanted!r}: no such column in the LMS file; its columns are "
                                  + ", ".join(repr(h) for h in header))
            found[assignment] = hits[0]
            continue
        names = {_norm(assignment)} | ({_norm(titles[assignment])} if titles.get(assignment) else set())
        hits = [i for i, h in enumerate(header) if _norm(_column_name(h, lms)) in names and _column_name(h, lms)]
        if len(hits) > 1:
            raise ExportError(f"{assignment} matches several columns ({', '.join(repr(header[i]) for i in hits)}): "
                              f"choose one with --column {assignment}=HEADER")
        if hits:
            found[assignment] = hits[0]
    return found


def _number(value):
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def fill(lms_file, grades, target, roster=None, titles=None, columns=None, out_of=None, missing_zero=False):
    """Write `target`: the LMS export `lms_file` with the scores of `grades` filled in; returns an ExportReport.

    grades: {(student, assignment): (final score, max score)}. roster: {student: {"email": ...}} to match by email.
    titles: {assignment: title} (the calendar's). columns: {assignment: exact header}. out_of: {assignment: points}
    to rescale to (Moodle; Canvas reads its Points Possible row). missing_zero: write 0 where a matched student has
    no submission.
    """
    rows, dialect = read_lms_file(lms_file)
    header = rows[0]
    lms = detect(header)
    assignments = sorted({a for _, a in grades})
    index = match_columns(header, lms, assignments, titles, columns)
    report = ExportReport(lms, Path(target), {a: header[i] for a, i in index.items()})
    report.assignments_without_column = [a for a in assignments if a not in index]

    identity = [i for i, h in enumerate(header)
                if _norm(h) in {_norm(x) for x in (CANVAS_IDENTITY if lms == "canvas" else MOODLE_IDENTITY)}]
    points, body = {}, []
    for number, row in enumerate(rows[1:], 2):
        if lms == "canvas" and row and row[0].strip() in (CANVAS_POINTS_ROW, "Muted", "Manual Posting"):
            if row[0].strip() == CANVAS_POINTS_ROW:
                points = {a: row[i] for a, i in index.items() if i < len(row)}
            continue
        if any(cell.strip() for cell in row):
            body.append((number, row))

    keys = {}
    for student in sorted({s for s, _ in grades} | set(roster or {})):
        keys.setdefault(_norm(student), set()).add(student)
        email = (roster or {}).get(student, {}).get("email")
        if email:
            keys.setdefault(_norm(email), set()).add(student)
    rows_of = {}
    for number, row in body:
        values = {_norm(row[i]) for i in identity if i < len(row) and row[i].strip()}
        students = set().union(*(keys.get(v, set()) for v in values)) if values else set()
        label = " / ".join(row[i] for i in ([0] + identity) if i < len(row) and row[i].strip()) or f"line {number}"
        if len(students) > 1:
            report.ambiguous.append(f"LMS line {number} ({label}) matches the students {', '.join(sorted(students))}")
            continue
        if not students:
            report.rows_without_grades.append(label)
            continue
        student = students.pop()
        rows_of.setdefault(student, []).append((number, row, label))

    graded = sorted({s for s, _ in grades})
    for student, found in list(rows_of.items()):
        if len(found) > 1:
            report.ambiguous.append(f"{student} matches several LMS lines: " + ", ".join(str(n) for n, _, _ in found))
            del rows_of[student]
    report.students_without_row = [s for s in graded if s not in rows_of and
                                   not any(s in m for m in report.ambiguous)]
    report.left_empty = {a: 0 for a in index}
    for student, [(number, row, label)] in rows_of.items():
        if student not in graded:
            report.rows_without_grades.append(label)
            continue
        report.students_matched.append(student)
        for assignment, i in index.items():
            while len(row) <= i:
                row.append("")
            if (student, assignment) not in grades:
                report.left_empty[assignment] += 1
                if missing_zero:
                    row[i] = "0"
                    report.filled += 1
                continue
            score, maximum = grades[(student, assignment)]
            scale = _scale(lms, assignment, maximum, points, out_of)
            row[i] = _number(score * scale)
            report.filled += 1
    write_lms_file(target, rows, dialect)
    return report


def _scale(lms, assignment, maximum, points, out_of):
    if out_of and assignment in out_of:
        return float(out_of[assignment]) / maximum if maximum else 0.0
    if lms == "canvas" and points.get(assignment, "").strip():
        try:
            return float(points[assignment]) / maximum if maximum else 0.0
        except ValueError:
            pass
    return 1.0


def grades_from_out(out, calendar=None, db_url=None, course_id=None):
    """{(student, assignment): (final score, max score)} from a grading output folder (grades.csv's final_score when
    it has one, else its score after the calendar's late penalty, else its score)."""
    term = term_data.load_term(out, calendar=calendar, db_url=db_url, course_id=course_id)
    return {(s.student, s.assignment): (s.final_score, s.max_score) for s in term.submissions}


def grades_from_gradebook(db_url, course_id):
    """{(student, assignment): (final score, max score)} from nbgrader's gradebook, as `nbgrader export` computes
    them: the score less the late-submission penalty, never below 0."""
    from nbgrader.api import Gradebook
    grades = {}
    with Gradebook(db_url, course_id) as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                final = max(0.0, float(submission.score) - float(submission.late_submission_penalty or 0.0))
                grades[(submission.student.id, assignment.name)] = (final, float(submission.max_score))
    return grades
