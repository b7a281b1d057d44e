"""The course calendar: its format and checks, the late policy, nbgrader's plugin and gradebook, what students read.

The class-wide tests use the synthetic 200-student class of tests/term/synthetic_class.py (real graded Results of a
handful of samples given to 200 students with planned submission times, extensions and late days).
"""
import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.pipeline import gradebook
from autograder import cli, course
from autograder.term import calendar as tc
from autograder.course import Course

COURSE = Course.here()

EXAMPLE = course.REPO / "docs" / "calendar.example.toml"
MSK = dt.timezone(dt.timedelta(hours=3))
BASE = """\
[late_policy]
per_day = 10
max_penalty = 50
zero_after_days = 7
grace_minutes = 15

[assignments.a1_neuron]
release = 2026-09-08T10:00:00+03:00
due = 2026-09-22T23:59:00+03:00

[assignments.a2_optimizers]
due = 2026-10-06T23:59:00+03:00

[[extensions]]
student = "ivanova"
assignment = "a1_neuron"
days = 3
"""


def at(hours_after_due, due=dt.datetime(2026, 9, 22, 23, 59, tzinfo=MSK)):
    return due + dt.timedelta(hours=hours_after_due)


def error_of(text, **kwargs):
    with pytest.raises(tc.CalendarError) as info:
        tc.parse(text, "calendar.toml", **kwargs)
    return str(info.value)


def test_example_calendar_of_the_docs_is_valid_and_complete():
    calendar = tc.load(EXAMPLE)
    assert set(calendar.deadlines) == set(COURSE.assignment_ids)
    assert calendar.deadlines["a6_seq2seq_attention"].policy.per_day == 20          # its own policy
    assert calendar.deadlines["a6_seq2seq_attention"].policy.max_penalty == 50      # the rest inherited
    assert tc.due_for(calendar, "a3_rnn_bptt", "ivanova") - calendar.deadlines["a3_rnn_bptt"].due == dt.timedelta(days=7)
    assert tc.due_for(calendar, "a6_seq2seq_attention", "petrov") == dt.datetime(2026, 12, 11, 12, 0, tzinfo=MSK)
    assert tc.due_for(calendar, "a3_rnn_bptt", "petrov") == calendar.deadlines["a3_rnn_bptt"].due


@pytest.mark.parametrize("hours, days, final", [
    (-1, 0, 88.0),              # on time
    (0.2, 0, 88.0),             # 12 minutes: within the 15-minute grace
    (0.3, 1, 79.2),             # 18 minutes: a started day
    (24, 1, 79.2),              # exactly one day
    (24.01, 2, 70.4),
    (30, 2, 70.4),              # the worked example of docs/calendar.md
    (24 * 6.5, 7, 44.0),        # 70 % capped at 50 %
    (24 * 7 + 1, 8, 0.0),       # more than 7 days: zero
])
def test_late_days_and_penalty_follow_the_policy(hours, days, final):
    calendar = tc.parse(BASE, "calendar.toml")
    late = tc.late_penalty(calendar, "a1_neuron", "petrov", at(hours), 88.0, 100.0)
    assert late.late_days == days
    assert late.final_score == pytest.approx(final)
    assert late.raw_score == 88.0 and late.penalty == pytest.approx(88.0 - final)


def test_extension_moves_the_due_date_for_that_student_only():
    calendar = tc.parse(BASE, "calendar.toml")
    assert tc.late_penalty(calendar, "a1_neuron", "ivanova", at(60), 90, 100).late_days == 0     # 2.5 days: within 3
    late = tc.late_penalty(calendar, "a1_neuron", "ivanova", at(73), 90, 100)
    assert late.extended and late.late_days == 1 and late.final_score == pytest.approx(81.0)
    assert tc.late_penalty(calendar, "a1_neuron", "petrov", at(60), 90, 100).late_days == 3


def test_unknown_submission_time_counts_as_on_time_and_naive_times_are_utc():
    calendar = tc.parse(BASE, "calendar.toml")
    assert tc.late_penalty(calendar, "a1_neuron", "x", None, 50, 100).final_score == 50
    naive_utc = dt.datetime(2026, 9, 22, 21, 30)            # 00:30 in Moscow: 31 minutes late
    assert tc.late_penalty(calendar, "a1_neuron", "x", naive_utc, 50, 100).late_days == 1
    assert tc.parse_timestamp("2026-09-22 21:30:00.000000 UTC") == naive_utc.replace(tzinfo=dt.timezone.utc)


def test_percentage_of_the_maximum_never_takes_more_than_the_score():
    calendar = tc.parse(BASE.replace("grace_minutes = 15", 'grace_minutes = 15\nof = "max_score"'), "calendar.toml")
    assert tc.late_penalty(calendar, "a1_neuron", "x", at(30), 88, 100).penalty == pytest.approx(20.0)
    assert tc.late_penalty(calendar, "a1_neuron", "x", at(30), 15, 100).final_score == 0.0


def test_without_a_late_policy_lateness_is_reported_but_costs_nothing():
    calendar = tc.parse(BASE.split("[assignments.a1_neuron]")[1].join(["[assignments.a1_neuron]", ""]), "calendar.toml")
    late = tc.late_penalty(calendar, "a1_neuron", "x", at(50), 70, 100)
    assert late.late_days == 3 and late.final_score == 70
    assert "не снимаются" in tc.deadlines_markdown(calendar)


@pytest.mark.parametrize("change, line, words", [
    (("[assignments.a2_optimizers]", "[assignments.a9_transformers]"), 11, "unknown assignment 'a9_transformers'"),
    (("due = 2026-09-22T23:59:00+03:00", "due = 2026-09-22T23:59:00"), 9, "has no time zone"),
    (("due = 2026-09-22T23:59:00+03:00", "due = 2026-09-22"), 9, "no time and no time zone"),
    (("due = 2026-09-22T23:59:00+03:00", 'due = "next friday"'), 9, "is not a date and time"),
    (("release = 2026-09-08T10:00:00+03:00", "release = 2026-09-30T10:00:00+03:00"), 9, "before it is released"),
    (("days = 3", "days = 0"), 17, "ends on or before the due date"),
    (("days = 3", "due = 2026-09-20T23:59:00+03:00"), 17, "before the due date of a1_neuron"),
    (("days = 3", "days = 3\ndue = 2026-09-29T23:59:00+03:00"), 14, "not both"),
    (("per_day = 10", "per_dya = 10"), 2, "unknown key 'per_dya'"),
    (("per_day = 10", "per_day = 150"), 2, "at most 100"),
    (("per_day = 10", "per_day = "), 2, "not valid TOML"),
    (('assignment = "a1_neuron"', 'assignment = "a3_rnn_bptt"'), 16, "has no due date in this calendar"),
    (('assignment = "a1_neuron"', 'assignment = "a7"'), 16, "unknown assignment 'a7'"),
    (("zero_after_days = 7", "zero_after_days = 2.5"), 4, "a whole number"),
])
def test_bad_input_is_an_error_naming_the_line(change, line, words):
    message = error_of(BASE.replace(*change))
    assert message.startswith(f"calendar.toml:{line}: "), message
    assert words in message


def test_unknown_student_is_an_error_against_the_roster(tmp_path):
    (tmp_path / "roster.csv").write_text("id,first_name,last_name,email\npetrov,Пётр,Петров,p@example.edu\n")
    (tmp_path / "calendar.toml").write_text('roster = "roster.csv"\n' + BASE)
    with pytest.raises(tc.CalendarError) as info:
        tc.load(tmp_path / "calendar.toml")
    assert str(info.value) == (f"{tmp_path / 'calendar.toml'}:16: unknown student 'ivanova': not in the roster; "
                               "check the spelling (ids are case-sensitive)")
    assert "unknown student 'ivanova'" in error_of(BASE, students=["petrov"])
    assert tc.parse(BASE, "calendar.toml", students=["ivanova"]).extensions


def test_duplicate_extension_names_the_first_one():
    message = error_of(BASE + '\n[[extensions]]\nstudent = "ivanova"\nassignment = ["a2_optimizers", "a1_neuron"]\ndays = 1\n')
    assert message.startswith("calendar.toml:19: ") and "already has an extension for a1_neuron (line 14)" in message


def test_cli_checks_the_calendar_and_exits_2_on_an_error(tmp_path, capsys):
    good = tmp_path / "calendar.toml"
    good.write_text(BASE)
    assert cli.main(["calendar", str(good)]) == 0
    assert "extension: ivanova / a1_neuron until 2026-09-25T23:59:00+03:00" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace("due = 2026-10-06T23:59:00+03:00", "due = 2026-10-06T23:59:00"))
    assert cli.main(["calendar", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:12: the due date of a2_optimizers 2026-10-06T23:59:00 has no time zone")
    assert cli.main(["calendar", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_deadlines_for_students_are_in_russian_in_due_order_with_the_students_extension():
    calendar = tc.load(EXAMPLE)
    text = tc.deadlines_markdown(calendar)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == COURSE.assignment_ids
    assert "| `a1_neuron` — Нейрон, слои, функции потерь | 08.09.2026 10:00 (UTC+03:00) | 22.09.2026 23:59 (UTC+03:00) |" in rows
    assert "Ваш срок" not in text
    assert "За каждый начатый день опоздания снимается 10 % набранных баллов" in text
    mine = tc.deadlines_markdown(calendar, "ivanova")
    assert "| Задание | Выдаётся | Срок сдачи | Ваш срок (продлён) |" in mine
    assert "| 20.10.2026 23:59 (UTC+03:00) | 27.10.2026 23:59 (UTC+03:00) |" in mine
    page = tc.deadlines_html(calendar, "petrov")
    assert page.count("<tr>") == 7 and "11.12.2026 12:00 (UTC+03:00)" in page


def test_titles_are_escaped_in_the_students_html():
    calendar = tc.parse(BASE.replace("[assignments.a2_optimizers]\n",
                                     '[assignments.a2_optimizers]\ntitle = "<script>alert(1)</script>"\n'), "c.toml")
    page = tc.deadlines_html(calendar)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert r"\<script\>" in tc.deadlines_markdown(calendar)


def test_feedback_fragment_says_due_date_submission_time_late_days_and_penalty():
    calendar = tc.parse(BASE, "calendar.toml")
    late = tc.late_penalty(calendar, "a1_neuron", "ivanova", at(72 + 27.5), 88, 100)
    page = tc.late_feedback_html(late, calendar)
    for text in ("Срок сдачи</th><td>25.09.2026 23:59 (UTC+03:00) — продлён (исходный срок 22.09.2026 23:59 (UTC+03:00))",
                 "Сдано</th><td>27.09.2026 03:29 (UTC+03:00)", "Опоздание</th><td>2 дня (на 1 день 3 ч 30 мин)",
                 "Штраф</th><td>20 %: −17,6 балла", "Итог</th><td>70,4 из 100 (без штрафа 88)"):
        assert text in page, text
    on_time = tc.late_feedback_html(tc.late_penalty(calendar, "a1_neuron", "petrov", at(-2), 88, 100), calendar)
    assert "нет, сдано в срок" in on_time and "Штраф</th><td>нет" in on_time


# ---------------------------------------------------------------- the synthetic class, nbgrader's gradebook

@pytest.fixture(scope="module")
def klass():
    import synthetic_class as term_class
    return term_class.synthetic_class()


@pytest.mark.slow
def test_class_calendar_gives_each_planned_student_the_planned_late_days(klass):
    folder, students = klass
    calendar = tc.load(folder / "calendar.toml")
    assert len(calendar.roster) == 200 and len(calendar.extensions) == 10
    for s in students:
        for a, when in s.submitted.items():
            late = tc.late_penalty(calendar, a, s.id, when, 80, 100)
            due = calendar.deadlines[a].due + dt.timedelta(days=s.extension_days.get(a, 0))
            hours = (when - due).total_seconds() / 3600
            expected = 0 if hours <= 0.25 else -(-hours // 24)
            assert late.late_days == expected, (s.id, a, hours)
    extended = [s for s in students if s.profile == "extended"]
    assert {tc.late_penalty(calendar, a, s.id, s.submitted[a], 80, 100).late_days
            for s in extended for a in s.extension_days} == {0, 1}


@pytest.mark.slow
def test_gradebook_and_nbgrader_export_agree_with_the_calendar(klass, tmp_path):
    """gradebook.apply_calendar writes due dates, extensions and penalties; `nbgrader export` then reports, for every
    one of the class's submissions, the final score that late_penalty computes."""
    import shutil
    from autograder.term import data as term_data
    folder, students = klass
    shutil.copy(folder / "out" / "gradebook.db", tmp_path / "gradebook.db")
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    calendar = tc.load(folder / "calendar.toml")
    rows = gradebook.apply_calendar(calendar, db, course.COURSE_ID)
    assert len(rows) == sum(len(s.templates) for s in students) and any(r.penalty > 0 for r in rows)
    assert gradebook.apply_calendar(calendar, db, course.COURSE_ID) == rows                 # idempotent
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export", "--to", "lms.csv",
                    f"--CourseDirectory.db_url={db}", f"--CourseDirectory.course_id={course.COURSE_ID}",
                    f"--CourseDirectory.root={tmp_path}"], cwd=tmp_path, check=True, capture_output=True)
    with open(tmp_path / "lms.csv") as f:
        exported = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f) if r["timestamp"]}
    times = term_data.submission_times(db, course.COURSE_ID)
    assert len(exported) == len(rows)
    penalized = 0
    for (student, assignment), row in exported.items():
        ours = tc.late_penalty(calendar, assignment, student, times[(student, assignment)], float(row["raw_score"]),
                               float(row["max_score"]))
        assert float(row["score"]) == pytest.approx(ours.final_score, abs=1e-9), (student, assignment)
        assert float(row["late_submission_penalty"] or 0) == pytest.approx(ours.penalty, abs=1e-9)
        penalized += ours.penalty > 0
    assert penalized >= 10


@pytest.mark.slow
def test_plugin_works_through_nbgraders_own_late_penalty_preprocessor(klass, tmp_path):
    import shutil
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties
    from traitlets.config import Config
    folder, students = klass
    shutil.copy(folder / "out" / "gradebook.db", tmp_path / "gradebook.db")
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    calendar = tc.load(folder / "calendar.toml")
    gradebook.apply_calendar(calendar, db, course.COURSE_ID)
    late = next((s, a) for s in students for a, when in s.submitted.items() if s.profile == "late" and
                tc.late_penalty(calendar, a, s.id, when, 100, 100).penalty > 0 and s.templates[a] == "perfect")
    (student, assignment) = late[0].id, late[1]
    with Gradebook(db, course.COURSE_ID) as gb:
        gb.find_submission_notebook(assignment, assignment, student).late_submission_penalty = None
        gb.db.commit()
    config = Config()
    config.AssignLatePenalties.plugin_class = "autograder.term.calendar.CalendarLatePenalty"
    config.CalendarLatePenalty.calendar_file = str(folder / "calendar.toml")
    nb = nbformat.v4.new_notebook()
    AssignLatePenalties(config=config).preprocess(nb, {"nbgrader": {
        "notebook": assignment, "assignment": assignment, "student": student, "db_url": db}})
    with Gradebook(db, course.COURSE_ID) as gb:
        submission = gb.find_submission(assignment, student)
        expected = tc.late_penalty(calendar, assignment, student, submission.timestamp, float(submission.score),
                                   float(submission.max_score))
        assert submission.late_submission_penalty == pytest.approx(expected.penalty) and expected.penalty > 0
