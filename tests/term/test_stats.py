"""The term statistics on the synthetic 200-student class (tests/term/synthetic_class.py: real graded Results of a handful of
samples, given to 200 students with planned submission times, extensions, late days and copies)."""
import base64
import csv
import json
import re
import shutil
from collections import Counter

import pytest

from autograder import cli
from autograder.term import stats
from autograder.term import calendar as term_calendar
from autograder.term import data as term_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def klass():
    import synthetic_class as term_class
    return term_class.synthetic_class()


@pytest.fixture(scope="module")
def term(klass):
    folder, _ = klass
    return term_data.load_term(folder / "out", calendar=term_calendar.load(folder / "calendar.toml"))


@pytest.fixture(scope="module")
def pages(klass, tmp_path_factory):
    folder, _ = klass
    target = tmp_path_factory.mktemp("stats")
    index = stats.write_stats(folder / "out", calendar=term_calendar.load(folder / "calendar.toml"), target=target)
    return index


def test_every_submission_of_the_class_is_read_with_its_final_score(klass, term):
    folder, students = klass
    calendar = term.calendar
    assert len(term.students) == 200
    assert len(term.submissions) == sum(len(s.templates) for s in students)
    planned = {(s.id, a): s.submitted[a] for s in students for a in s.templates}
    for sub in term.submissions:
        expected = term_calendar.late_penalty(calendar, sub.assignment, sub.student, planned[(sub.student, sub.assignment)],
                                              sub.raw_score, sub.max_score)
        assert sub.final_score == pytest.approx(expected.final_score, abs=1e-6)
        assert sub.late_days == expected.late_days
        assert abs((sub.submitted_at - planned[(sub.student, sub.assignment)]).total_seconds()) < 1e-3
    assert sum(1 for s in term.submissions if s.final_score < s.raw_score) >= 10


def test_pass_rates_count_the_students_whose_template_passed(klass, term):
    _, students = klass
    rates = {a: {g: (p, n) for g, _, p, n in rows} for a, rows in stats.pass_rates(term).items()}
    templates = Counter(s.templates.get("a1_neuron") for s in students)
    fails_mae = templates["partly_wrong"] + templates["infinite_loop"] + templates["untouched"]
    assert rates["a1_neuron"]["test_mae_loss"] == (200 - fails_mae, 200)
    assert rates["a1_neuron"]["test_bce_loss"] == (200 - templates["raises"] - templates["untouched"], 200)
    a4 = Counter(s.templates.get("a4_lstm_gru") for s in students)
    assert rates["a4_lstm_gru"]["test_gru_step_forward"] == (200 - a4["partial_a4"] - a4["untouched"], 200)
    assert rates["a4_lstm_gru"]["test_lstm_step_forward"] == (200 - a4["untouched"], 200)
    assert set(rates["a1_neuron"]) == {g for g, _ in term.tests["a1_neuron"]} and len(term.tests["a1_neuron"]) == 13


def test_commonest_failure_messages_come_from_the_feedback_pages(klass, term):
    _, students = klass
    mae = dict(term.messages["a1_neuron"]["test_mae_loss"])
    templates = Counter(s.templates.get("a1_neuron") for s in students)
    assert mae["AssertionError: mae_loss: dy differs from the reference (max abs diff 6.7e-01); loss match"] == \
        templates["partly_wrong"]
    assert sum(n for m, n in mae.items() if "time limit" in m) == templates["infinite_loop"]
    assert sum(n for m, n in mae.items() if "NotImplementedError" in m) == templates["untouched"]
    bce = dict(term.messages["a1_neuron"]["test_bce_loss"])
    assert any("not finished yet" in m and n == templates["raises"] for m, n in bce.items())
    assert "(no error message)" not in {m for table in term.messages.values() for c in table.values() for m in c}


def test_failure_messages_can_be_given_and_a_grade_message_is_preferred(tmp_path):
    out = tmp_path / "out"
    (out / "results" / "ann").mkdir(parents=True)
    (out / "grades.csv").write_text("student_id,assignment,score,max_score,test_x,test_y\nann,a1_neuron,0,10,0,0\n")
    (out / "results" / "ann" / "a1_neuron.json").write_text(json.dumps({
        "student": "ann", "assignment": "a1_neuron", "grades": [
            {"notebook": "a1_neuron", "grade_id": "test_x", "score": 0, "max_score": 5, "message": "x is wrong"},
            {"notebook": "a1_neuron", "grade_id": "test_y", "score": 0, "max_score": 5}],
        "problems": [], "feedback": {}, "timing": {"tests_seconds": 2.5, "kernel_seconds": 1.0}}))
    term = term_data.load_term(out, messages={"a1_neuron": {"test_y": ["y is wrong", "y is wrong"]}})
    assert dict(term.messages["a1_neuron"]["test_x"]) == {"x is wrong": 1}
    assert dict(term.messages["a1_neuron"]["test_y"]) == {"(no error message)": 1, "y is wrong": 2}
    assert term.submissions[0].grading_seconds == 3.5


def test_a_final_score_column_is_used_as_it_is_unless_a_calendar_is_given(tmp_path):
    """Without a calendar, are grades.csv's final scores (what `grade --calendar` wrote) used as they are; with one,
    does that calendar decide (here: no submission time is known, so nothing is late)?"""
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.csv").write_text("student_id,assignment,score,max_score,raw_score,final_score,late_days,test_x\n"
                                    "ann,a1_neuron,90,100,90,72,2,90\n")
    sub = term_data.load_term(out).submissions[0]
    assert (sub.raw_score, sub.final_score, sub.late_days, sub.parts) == (90, 72, 2, {"test_x": 90})
    calendar = term_calendar.parse('[assignments.a1_neuron]\ndue = 2026-09-22T23:59:00+03:00\n'
                                   '[late_policy]\nper_day = 50\n', "c.toml")
    sub = term_data.load_term(out, calendar=calendar).submissions[0]
    assert (sub.raw_score, sub.final_score, sub.late_days) == (90, 90, 0)


def test_bad_grades_csv_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "grades.csv").write_text("name,points\nann,3\n")
    assert cli.main(["stats", str(tmp_path)]) == 2
    assert "not a grades.csv of the grader: no column student_id, assignment, score, max_score" in capsys.readouterr().err
    assert cli.main(["stats", str(tmp_path / "nowhere")]) == 2
    assert "run `python -m autograder grade" in capsys.readouterr().err


def _axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_every_figure_has_a_title_and_labelled_axes(term):
    figures = [stats.figure_scores(term), stats.figure_problems(stats.problem_counts(term)),
               stats.figure_late(stats.late_table(term)), stats.figure_timing(term)]
    figures += [stats.figure_pass_rates(a, rows) for a, rows in stats.pass_rates(term).items()]
    assert all(f is not None for f in figures)
    for fig in figures:
        for ax in _axes(fig):
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), fig
    late = stats.late_table(term)
    assert sum(sum(row[1:]) for row in late.values()) == sum(1 for s in term.submissions if s.late_days > 0) > 0
    bars = sum(len(c.patches) for c in _axes(stats.figure_late(late))[0].containers)
    assert bars == len(stats.LATE_BINS) * len(term.assignments)


def test_the_page_embeds_every_figure_as_a_png(pages, term):
    text = pages.read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)">', text)
    assert len(images) == 4 + len(term.assignments)
    for data, alt in images:
        png = base64.b64decode(data)
        assert png[:8] == b"\x89PNG\r\n\x1a\n", alt
    assert "Tests to look at first" in text and "test_mae_loss" in text
    students = re.findall(r'<a href="students/(s\d{3}\.html)">', text)
    assert len(students) == 200 and all((pages.parent / "students" / s).exists() for s in students)


def test_student_page_shows_every_assignment_late_days_and_extension(klass, pages, term):
    _, students = klass
    extended = next(s for s in students if s.profile == "extended" and
                    any(term_calendar.late_penalty(term.calendar, a, s.id, s.submitted[a], 1, 1).late_days
                        for a in s.extension_days))
    a = next(iter(extended.extension_days))
    page = (pages.parent / "students" / f"{extended.id}.html").read_text()
    assert f"Итоги курса: {extended.first_name} {extended.last_name} ({extended.id})" in page
    row = re.search(rf"<tr><td><code>{a}</code></td>(.*?)</tr>", page).group(1)
    assert "(продлён)" in row and "1 день" in row and "−10" in row
    assert page.count("<code>a") >= 2 * 6                                    # results table and deadlines
    untouched_a5 = next(s for s in students if "a5_charlm_birnn" not in s.templates)
    assert "не сдано" in (pages.parent / "students" / f"{untouched_a5.id}.html").read_text()


def test_student_ids_are_escaped_and_their_files_safe(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    evil = '<img src=x onerror=alert(1)>'
    with open(out / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "assignment", "score", "max_score", "test_x"])
        writer.writerow([evil, "a1_neuron", 5, 10, 5])
    index = stats.write_stats(out)
    assert evil not in index.read_text() and "&lt;img src=x onerror=alert(1)&gt;" in index.read_text()
    (page,) = (out / "stats" / "students").iterdir()
    assert re.fullmatch(r"student-[0-9a-f]{16}\.html", page.name) and evil not in page.read_text()


def test_cli_writes_the_page_and_says_where(klass, tmp_path, capsys):
    folder, _ = klass
    out = tmp_path / "out"
    shutil.copytree(folder / "out", out, copy_function=shutil.copy)
    assert cli.main(["stats", str(out), "--calendar", str(folder / "calendar.toml")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"statistics: {out / 'stats' / 'index.html'}"
    assert len(list((out / "stats" / "students").glob("*.html"))) == 200
