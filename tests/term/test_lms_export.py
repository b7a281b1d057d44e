"""LMS import files: the synthetic 200-student class's final scores written into Moodle's and Canvas's own
gradebook exports, read back.

The exported files are made in the LMSs' documented formats: Moodle's "Export → Plain text file" (user
columns First name, Last name, ID number, Institution, Department, Email address; a column
"Assignment: <name> (Real)" per activity; "Course total (Real)"; "Last downloaded from this course"; also
in Russian, with semicolons and a BOM, as a Russian Moodle with Excel settings writes it); Canvas's
"Export Entire Gradebook" (Student, ID, SIS User ID, SIS Login ID, Section, "<name> (<id>)" per assignment,
the read-only totals, a "Points Possible" row and the test student).
"""
import csv
import io
import shutil

import pytest

from autograder.pipeline import gradebook
from autograder import cli, course
from autograder.term import lms
from autograder.term import calendar as term_calendar
from autograder.course import Course

COURSE = Course.here()

pytestmark = pytest.mark.slow
ASSIGNMENTS = COURSE.assignment_ids


@pytest.fixture(scope="module")
def klass():
    import synthetic_class as term_class
    folder, students = term_class.synthetic_class()
    calendar = term_calendar.load(folder / "calendar.toml")
    grades = lms.grades_from_out(folder / "out", calendar=calendar)
    return folder, students, calendar, grades


def moodle_export(students, path, assignments=ASSIGNMENTS[:5], russian=False, titles=None):
    """Moodle's plain-text export of the course (students[2:] plus two students who never used the hub)."""
    if russian:
        head = ["Имя", "Фамилия", "Индивидуальный номер", "Учреждение (организация)", "Отдел", "Адрес электронной почты"]
        items = [f"Задание: {titles[a]} (Значение)" for a in assignments]
        tail = ["Итоговая оценка за курс (Значение)", "Последняя загрузка из этого курса"]
    else:
        head = ["First name", "Last name", "ID number", "Institution", "Department", "Email address"]
        items = [f"Assignment: {a} (Real)" for a in assignments]
        tail = ["Course total (Real)", "Last downloaded from this course"]
    rows = [head + items + tail]
    people = [(s.first_name, s.last_name, f"2026{i:04d}", "СПбГУ", "МатМех", s.email) for i, s in enumerate(students[2:])]
    people += [("Нет", "Работ", "20269998", "СПбГУ", "МатМех", "nobody@students.example.edu"),
               ("Гость", "Курса", "20269999", "", "", "guest@example.edu")]
    for person in people:
        rows.append(list(person) + ["-"] * len(items) + ["-", "1758000000"])
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";" if russian else ",", lineterminator="\r\n" if russian else "\n").writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if russian else b"") + buffer.getvalue().encode())
    return path


def canvas_export(students, path):
    """Canvas's gradebook export: a1 is worth 10 points in Canvas, the others 100."""
    items = [f"{a} ({5100 + i})" for i, a in enumerate(ASSIGNMENTS)]
    totals = ["Assignments Current Points", "Assignments Final Points", "Current Points", "Final Points",
              "Current Score", "Unposted Current Score", "Final Score", "Unposted Final Score"]
    rows = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + items + totals,
            ["    Points Possible", "", "", "", ""] + ["10.00"] + ["100.00"] * (len(items) - 1) + ["(read only)"] * 8]
    for i, s in enumerate(students):
        rows.append([f"{s.last_name}, {s.first_name}", str(40000 + i), f"2026{i:04d}", s.id, "RNN-2026"]
                    + [""] * len(items) + ["0.00"] * 8)
    rows.append(["Student, Test", "99999", "", "", "RNN-2026"] + [""] * len(items) + ["0.00"] * 8)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())
    return path


def read(path, delimiter=","):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f, delimiter=delimiter))


def test_moodle_file_is_filled_by_email_and_unmatched_are_listed(klass, tmp_path):
    folder, students, calendar, grades = klass
    source = moodle_export(students, tmp_path / "moodle.csv")
    report = lms.fill(source, grades, tmp_path / "import.csv", roster=calendar.roster)
    assert report.lms == "moodle"
    assert report.columns == {a: f"Assignment: {a} (Real)" for a in ASSIGNMENTS[:5]}
    assert report.assignments_without_column == ["a6_seq2seq_attention"]
    assert report.students_without_row == [students[0].id, students[1].id]
    assert report.rows_without_grades == ["Нет / 20269998 / nobody@students.example.edu",
                                          "Гость / 20269999 / guest@example.edu"]
    assert not report.ambiguous
    before, after = read(source), read(tmp_path / "import.csv")
    assert after[0] == before[0] and len(after) == len(before)
    email = {s.email: s.id for s in students}
    written = 0
    for old, new in zip(before[1:], after[1:]):
        assert new[:6] == old[:6] and new[-2:] == old[-2:]                   # user columns and totals as they were
        student = email.get(new[5])
        for a, cell in zip(ASSIGNMENTS[:5], new[6:11]):
            if (student, a) in grades:
                assert float(cell) == pytest.approx(grades[(student, a)][0], abs=0.005)
                written += 1
            else:
                assert cell == "-"                                            # no submission: left as it was
    assert written == report.filled == sum(1 for s, a in grades if a != "a6_seq2seq_attention" and
                                          s not in (students[0].id, students[1].id))
    raw_scores = {100, 92, 91, 88, 80, 50, 0}                                 # what the handful scored
    assert {float(c) for r in after[1:] for c in r[6:11] if c != "-"} - raw_scores   # late penalties are in the file
    assert any("without a submission" in line for line in report.lines())


def test_russian_moodle_with_semicolons_and_bom_matched_by_titles(klass, tmp_path):
    folder, students, calendar, grades = klass
    titles = {a: f"Задание {i + 1}. {a.split('_', 1)[1]}" for i, a in enumerate(ASSIGNMENTS)}
    source = moodle_export(students, tmp_path / "moodle-ru.csv", ASSIGNMENTS, russian=True, titles=titles)
    report = lms.fill(source, grades, tmp_path / "import.csv", roster=calendar.roster, titles=titles)
    assert set(report.columns) == set(ASSIGNMENTS) and not report.assignments_without_column
    raw = (tmp_path / "import.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and raw.count(b";") > raw.count(b",")
    rows = read(tmp_path / "import.csv", ";")
    s = students[10]
    row = next(r for r in rows if r[5] == s.email)
    for i, a in enumerate(ASSIGNMENTS):
        expected = f"{round(grades[(s.id, a)][0], 2):.2f}".rstrip("0").rstrip(".") if (s.id, a) in grades else "-"
        assert row[6 + i] == expected


def test_canvas_file_is_rescaled_to_points_possible_and_totals_untouched(klass, tmp_path):
    folder, students, calendar, grades = klass
    source = canvas_export(students, tmp_path / "canvas.csv")
    report = lms.fill(source, grades, tmp_path / "import.csv")
    assert report.lms == "canvas" and len(report.columns) == 6 and not report.students_without_row
    assert report.rows_without_grades == ["Student, Test / 99999"]
    before, after = read(source), read(tmp_path / "import.csv")
    assert after[:2] == before[:2]                                            # header, Points Possible
    assert (tmp_path / "import.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    for old, new in zip(before[2:], after[2:]):
        assert new[:5] == old[:5] and new[11:] == old[11:]
        if new[3]:
            for a, cell in zip(ASSIGNMENTS, new[5:11]):
                if (new[3], a) in grades:
                    final, maximum = grades[(new[3], a)]
                    points = 10 if a == "a1_neuron" else 100
                    assert float(cell) == pytest.approx(final / maximum * points, abs=0.005)
                else:
                    assert cell == ""


def test_ambiguous_rows_are_not_written(klass, tmp_path):
    folder, students, calendar, grades = klass
    source = canvas_export(students[:4], tmp_path / "canvas.csv")
    rows = read(source)                                   # header, Points Possible, s000, s001, s002, s003, test student
    rows.append(list(rows[2]))                            # s000 twice
    rows[4][2] = students[3].id                           # s002's row: SIS User ID of s003, SIS Login ID of s002
    with open(source, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    report = lms.fill(source, grades, tmp_path / "import.csv")
    assert f"{students[0].id} matches several LMS lines: 3, 8" in report.ambiguous
    assert any(m.startswith("LMS line 5 ") and f"matches the students {students[2].id}, {students[3].id}" in m
               for m in report.ambiguous)
    assert report.students_matched == [students[1].id, students[3].id]
    written = read(tmp_path / "import.csv")
    assert written[2][5:11] == [""] * 6 and written[7][5:11] == [""] * 6 and written[4][5:11] == [""] * 6
    assert students[0].id not in report.students_without_row


def test_explicit_columns_and_bad_files_are_explained(klass, tmp_path):
    folder, students, calendar, grades = klass
    source = moodle_export(students[:5], tmp_path / "moodle.csv", ["a1_neuron"])
    text = source.read_text().replace("Assignment: a1_neuron (Real)", "Assignment: Домашнее задание 1 (Real)")
    source.write_text(text)
    report = lms.fill(source, grades, tmp_path / "out.csv", roster=calendar.roster)
    assert "a1_neuron" in report.assignments_without_column
    report = lms.fill(source, grades, tmp_path / "out.csv", roster=calendar.roster,
                      columns={"a1_neuron": "Assignment: Домашнее задание 1 (Real)"})
    assert report.columns["a1_neuron"] == "Assignment: Домашнее задание 1 (Real)" and report.filled == 3
    with pytest.raises(lms.ExportError, match="--column a1_neuron='Задание 1': no such column"):
        lms.fill(source, grades, tmp_path / "out.csv", columns={"a1_neuron": "Задание 1"})
    (tmp_path / "other.csv").write_text("name,points\nann,3\n")
    with pytest.raises(lms.ExportError, match="neither a Canvas gradebook export"):
        lms.fill(tmp_path / "other.csv", grades, tmp_path / "out.csv")


def test_gradebook_and_grading_folder_give_the_same_final_scores(klass, tmp_path):
    """After the calendar is applied to nbgrader's gradebook, nbgrader's own arithmetic gives our finals."""
    folder, students, calendar, grades = klass
    shutil.copy(folder / "out" / "gradebook.db", tmp_path / "gradebook.db")
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    gradebook.apply_calendar(calendar, db, course.COURSE_ID)
    from_gradebook = lms.grades_from_gradebook(db, course.COURSE_ID)
    assert set(from_gradebook) == set(grades)
    for key, (final, maximum) in grades.items():
        assert from_gradebook[key] == (pytest.approx(final, abs=1e-9), maximum)


def test_cli_export(klass, tmp_path, capsys):
    folder, students, calendar, grades = klass
    source = moodle_export(students, tmp_path / "moodle.csv")
    args = ["export", str(folder / "out"), "--lms-file", str(source), "--to", str(tmp_path / "import.csv"),
            "--calendar", str(folder / "calendar.toml"), "--out-of", "a1_neuron=10"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"moodle import file: {tmp_path / 'import.csv'}")
    assert "assignments with no column in the LMS file" in out and "a6_seq2seq_attention" in out
    s = students[5]
    row = next(r for r in read(tmp_path / "import.csv") if r[5] == s.email)
    assert float(row[6]) == pytest.approx(grades[(s.id, "a1_neuron")][0] / 10, abs=0.005)
    assert cli.main(args[:-2] + ["--out-of", "a1_neuron"]) == 2
    assert "write --out-of ASSIGNMENT=VALUE" in capsys.readouterr().err
