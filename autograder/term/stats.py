"""python -m autograder stats OUT: one HTML page of the term's statistics, and a page per student.

    OUT/stats/index.html              for the instructor (English): scores per assignment, the pass rate of every
                                      test cell, the commonest failure messages, problems by kind, late days,
                                      grading time, and every student's row
    OUT/stats/students/<student>.html for one student (Russian): every assignment, the score before and after the
                                      late penalty, late days, extensions; to release with the feedback

Figures are matplotlib PNGs embedded in the page (base64), so each page is one self-contained file.
Everything a student could have typed (ids, error messages) is escaped. The data come from
autograder.term.data (grades.csv, report.json, results/, the gradebook's submission times) and, when
given, the course calendar (term_calendar).
"""
import base64
import hashlib
import html
import io
import re
import statistics
from collections import Counter
from pathlib import Path

from . import calendar as term_calendar
from . import data as term_data

PASS_LINE = 0.5                           # a test passed by fewer than half the submissions is worth a look
LATE_BINS = [("on time", 0, 0), ("1 day", 1, 1), ("2 days", 2, 2), ("3 days", 3, 3), ("4-7 days", 4, 7),
             ("over 7 days", 8, 10 ** 9)]
e = html.escape


def _png(fig):
    """A matplotlib Figure as an <img> data URL (None stays None)."""
    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figure(width, height):
    from matplotlib.figure import Figure                   # no pyplot: no global state, no display needed
    return Figure(figsize=(width, height))


def _percent(score, maximum):
    return 100.0 * score / maximum if maximum else 0.0


# ---------------------------------------------------------------- numbers

def assignment_summary(term):
    """[{assignment, submitted, mean, median, min, max (final, % of max), penalized, late}] per assignment."""
    rows = []
    for a in term.assignments:
        subs = [s for s in term.submissions if s.assignment == a]
        finals = [_percent(s.final_score, s.max_score) for s in subs]
        rows.append({"assignment": a, "submitted": len(subs),
                     "mean": statistics.fmean(finals) if finals else None,
                     "median": statistics.median(finals) if finals else None,
                     "min": min(finals) if finals else None, "max": max(finals) if finals else None,
                     "late": sum(1 for s in subs if s.late_days > 0),
                     "penalized": sum(1 for s in subs if s.final_score < s.raw_score - 1e-9)})
    return rows


def pass_rates(term):
    """{assignment: [(grade_id, max points, passed, graded)]}: how many submissions got the full points of each test."""
    table = {}
    for a in term.assignments:
        subs = [s for s in term.submissions if s.assignment == a]
        rows = []
        for grade_id, points in term.tests.get(a, []):
            graded = [s for s in subs if grade_id in s.parts]
            passed = sum(1 for s in graded if s.parts[grade_id] >= s.part_max.get(grade_id, points) - 1e-9 and
                         (s.part_max.get(grade_id, points) > 0 or s.parts[grade_id] > 0))
            rows.append((grade_id, points, passed, len(graded)))
        table[a] = rows
    return table


def problem_counts(term):
    """Counter {kind: submissions (or rows without a submission) that have it}."""
    seen = {(p.get("student"), p.get("assignment"), p.get("kind")) for p in term.problems}
    return Counter(kind for _, _, kind in seen)


def late_table(term):
    """{assignment: [count per LATE_BINS]} of the submissions."""
    table = {}
    for a in term.assignments:
        counts = [0] * len(LATE_BINS)
        for s in term.submissions:
            if s.assignment == a:
                counts[next(i for i, (_, lo, hi) in enumerate(LATE_BINS) if lo <= s.late_days <= hi)] += 1
        table[a] = counts
    return table


# ---------------------------------------------------------------- figures (instructor page: English)
# Each returns a matplotlib Figure (None when there is nothing to draw); every axes has a title and labels.

def figure_scores(term):
    assignments = [a for a in term.assignments if any(s.assignment == a for s in term.submissions)]
    if not assignments:
        return None
    cols = min(3, len(assignments))
    rows = -(-len(assignments) // cols)
    fig = _figure(4.2 * cols, 3.0 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    bins = list(range(0, 105, 5))
    for ax, a in zip(axes.flat, assignments):
        subs = [s for s in term.submissions if s.assignment == a]
        final = [min(_percent(s.final_score, s.max_score), 99.999) for s in subs]
        raw = [min(_percent(s.raw_score, s.max_score), 99.999) for s in subs]
        ax.hist(final, bins=bins, color="#4c72b0", label="final")
        if raw != final:
            ax.hist(raw, bins=bins, histtype="step", color="#dd8452", linewidth=1.5, label="before late penalty")
            ax.legend(fontsize=7, loc="upper left")
        ax.set_title(f"{a} ({len(subs)} submissions)", fontsize=10)
        ax.set_xlabel("score, % of maximum")
        ax.set_ylabel("submissions")
    for ax in list(axes.flat)[len(assignments):]:
        ax.set_visible(False)
    fig.suptitle("Score distribution per assignment")
    fig.tight_layout()
    return fig


def figure_pass_rates(assignment, rows):
    if not rows:
        return None
    fig = _figure(7.5, 0.32 * len(rows) + 1.2)
    ax = fig.subplots()
    names = [g for g, *_ in rows][::-1]
    rates = [100.0 * p / n if n else 0.0 for _, _, p, n in rows][::-1]
    colors = ["#c44e52" if r < 100 * PASS_LINE else "#4c72b0" for r in rates]
    ax.barh(names, rates, color=colors)
    ax.axvline(100 * PASS_LINE, color="grey", linestyle=":", linewidth=1)
    ax.set_xlim(0, 100)
    ax.set_title(f"Test pass rate: {assignment}")
    ax.set_xlabel("submissions with full points, %")
    ax.set_ylabel("test cell")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def figure_problems(counts):
    if not counts:
        return None
    kinds = sorted(counts, key=lambda k: (counts[k], k))
    fig = _figure(7.5, 0.35 * len(kinds) + 1.2)
    ax = fig.subplots()
    ax.barh(kinds, [counts[k] for k in kinds], color="#8172b3")
    ax.set_title("Problems by kind")
    ax.set_xlabel("submissions with the problem")
    ax.set_ylabel("kind")
    fig.tight_layout()
    return fig


def figure_late(table):
    if not any(sum(c) for c in table.values()):
        return None
    assignments = list(table)
    fig = _figure(8, 3.6)
    ax = fig.subplots()
    bottom = [0] * len(assignments)
    palette = ["#55a868", "#f2c14e", "#f28e2b", "#e15759", "#b07aa1", "#59595c"]
    for i, (label, _, _) in enumerate(LATE_BINS):
        values = [table[a][i] for a in assignments]
        ax.bar(assignments, values, bottom=bottom, label=label, color=palette[i])
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_title("Late days per assignment")
    ax.set_xlabel("assignment")
    ax.set_ylabel("submissions")
    ax.tick_params(axis="x", labelsize=8, rotation=20)
    ax.legend(fontsize=8, ncols=3)
    fig.tight_layout()
    return fig


def figure_timing(term):
    seconds = [s.grading_seconds for s in term.submissions if s.grading_seconds is not None]
    if not seconds:
        return None
    fig = _figure(7.5, 3.4)
    ax = fig.subplots()
    ax.hist(seconds, bins=30, color="#64b5cd")
    ax.set_title(f"Grading time per submission ({len(seconds)} timed)")
    ax.set_xlabel("seconds (test cells)")
    ax.set_ylabel("submissions")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- pages

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tr.low td { background: #fbe9e9; }
img { max-width: 100%; }
code { font-size: 0.95em; }
.messages { font-family: monospace; font-size: 0.85em; }
"""


def _page(title, body, lang="en"):
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f"<body>{body}</body></html>\n")


def _img(src, alt):
    return f'<p><img src="{src}" alt="{e(alt)}"></p>' if src else f"<p><em>{e(alt)}: no data.</em></p>"


def _fmt(x, digits=1):
    return "—" if x is None else f"{x:.{digits}f}"


def student_file(student):
    """A file name for a student's page: the id if it is a plain name, else a digest (ids may hold anything)."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}", student):
        return f"{student}.html"
    return f"student-{hashlib.sha256(student.encode()).hexdigest()[:16]}.html"


def instructor_page(term):
    summary = assignment_summary(term)
    rates = pass_rates(term)
    counts = problem_counts(term)
    parts = [f"<h1>Term statistics</h1><p>{len(term.students)} students, {len(term.submissions)} graded submissions, "
             f"{len(term.assignments)} assignments; from <code>{e(str(term.out))}</code>"
             + (f" and the calendar <code>{e(term.calendar.path)}</code>" if term.calendar else " (no calendar: no late "
                "penalties computed here)") + ".</p>"]
    parts.append("<h2>Assignments</h2><table><tr><th>assignment</th><th class=num>submitted</th>"
                 "<th class=num>mean %</th><th class=num>median %</th><th class=num>min %</th><th class=num>max %</th>"
                 "<th class=num>late</th><th class=num>penalized</th></tr>" + "".join(
                     f"<tr><td><code>{e(r['assignment'])}</code></td><td class=num>{r['submitted']}</td>"
                     f"<td class=num>{_fmt(r['mean'])}</td><td class=num>{_fmt(r['median'])}</td>"
                     f"<td class=num>{_fmt(r['min'])}</td><td class=num>{_fmt(r['max'])}</td>"
                     f"<td class=num>{r['late']}</td><td class=num>{r['penalized']}</td></tr>" for r in summary)
                 + "</table>")
    parts.append(_img(_png(figure_scores(term)), "Score distribution per assignment"))

    hardest = sorted(((p / n if n else 0.0, a, g, p, n) for a, rows in rates.items() for g, _, p, n in rows if n and p < n),
                     key=lambda r: (r[0], r[1], r[2]))[:8]
    parts.append("<h2>Tests to look at first</h2><p>The test cells with the lowest pass rates: a test that almost "
                 "everybody fails is more often a broken or unclear test than a hard one.</p><table><tr><th>assignment"
                 "</th><th>test cell</th><th class=num>passed</th><th>commonest failure</th></tr>" + "".join(
                     f"<tr class=\"{'low' if r < PASS_LINE else ''}\"><td><code>{e(a)}</code></td><td><code>{e(g)}</code>"
                     f"</td><td class=num>{p} / {n}</td><td class=messages>"
                     f"{e(_top(term, a, g, 1)[0][0]) if _top(term, a, g, 1) else ''}</td></tr>"
                     for r, a, g, p, n in hardest) + "</table>")

    parts.append("<h2>Test cells</h2>")
    for a, rows in rates.items():
        if not rows:
            continue
        parts.append(f"<h3><code>{e(a)}</code></h3>")
        parts.append(_img(_png(figure_pass_rates(a, rows)), f"Test pass rate: {a}"))
        parts.append("<table><tr><th>test cell</th><th class=num>points</th><th class=num>passed</th>"
                     "<th>commonest failure messages (submissions)</th></tr>" + "".join(
                         f"<tr class=\"{'low' if n and p / n < PASS_LINE else ''}\"><td><code>{e(g)}</code></td>"
                         f"<td class=num>{pts:g}</td><td class=num>{p} / {n}</td><td class=messages>"
                         + "<br>".join(f"{c} × {e(m)}" for m, c in _top(term, a, g, 3)) + "</td></tr>"
                         for g, pts, p, n in rows) + "</table>")

    parts.append("<h2>Problems by kind</h2>")
    parts.append(_img(_png(figure_problems(counts)), "Problems by kind"))
    if counts:
        parts.append("<table><tr><th>kind</th><th class=num>count</th></tr>" + "".join(
            f"<tr><td><code>{e(k)}</code></td><td class=num>{c}</td></tr>" for k, c in counts.most_common()) + "</table>")
    parts.append("<h2>Late submissions</h2>")
    parts.append(_img(_png(figure_late(late_table(term))), "Late days per assignment"))
    parts.append("<h2>Grading time</h2>")
    parts.append(_img(_png(figure_timing(term)), "Grading time per submission"))
    parts.append(_students_table(term))
    return _page("Term statistics", "".join(parts))


def _top(term, assignment, grade_id, n):
    return term.messages.get(assignment, {}).get(grade_id, Counter()).most_common(n)


def _students_table(term):
    assignments = term.assignments
    table = term.by_student()
    head = "".join(f"<th class=num><code>{e(a)}</code></th>" for a in assignments)
    rows = []
    for student in term.students:
        mine = table.get(student, {})
        cells = []
        for a in assignments:
            s = mine.get(a)
            extended = term.calendar is not None and (student, a) in term.calendar.extensions
            mark = (f" ({s.late_days}d late)" if s and s.late_days else "") + (" ext" if extended else "")
            cells.append(f"<td class=num>{'—' if s is None else f'{s.final_score:g}'}{e(mark)}</td>")
        total = sum(s.final_score for s in mine.values())
        rows.append(f'<tr><td><a href="students/{e(student_file(student))}">{e(student)}</a></td>{"".join(cells)}'
                    f"<td class=num>{total:g}</td></tr>")
    return (f"<h2>Students</h2><p>Final scores (after late penalties); “ext”: an extension. Each name links to the "
            f"student's own page.</p><table><tr><th>student</th>{head}<th class=num>total</th></tr>{''.join(rows)}</table>")


def student_page(term, student):
    """One student's overview, in Russian: every assignment, score, late days, extension."""
    mine = term.by_student().get(student, {})
    cal = term.calendar
    name = student
    if term.roster and student in term.roster:
        person = term.roster[student]
        full = " ".join(x for x in (person.get("first_name"), person.get("last_name")) if x)
        name = f"{full} ({student})" if full else student
    rows = []
    for a in term.assignments:
        s = mine.get(a)
        deadline = cal.deadlines.get(a) if cal else None
        due = term_calendar.format_moment(term_calendar.due_for(cal, a, student), cal) if deadline else "—"
        extension = cal.extensions.get((student, a)) if cal else None
        if extension:
            due += " (продлён)"
        if s is None:
            rows.append(f"<tr><td><code>{e(a)}</code></td><td>{e(due)}</td><td>не сдано</td><td>—</td><td>—</td>"
                        "<td>—</td><td>—</td></tr>")
            continue
        submitted = term_calendar.format_moment(s.submitted_at, cal) if s.submitted_at else "—"
        late = term_calendar._days_ru(s.late_days) if s.late_days else "нет"
        penalty = s.raw_score - s.final_score
        rows.append(f"<tr><td><code>{e(a)}</code></td><td>{e(due)}</td><td>{e(submitted)}</td><td>{e(late)}</td>"
                    f"<td class=num>{s.raw_score:g} из {s.max_score:g}</td>"
                    f"<td class=num>{'−' + format(round(penalty, 2), 'g') if penalty > 1e-9 else '—'}</td>"
                    f"<td class=num><strong>{round(s.final_score, 2):g}</strong></td></tr>")
    total = sum(s.final_score for s in mine.values())
    maximum = sum(s.max_score for s in mine.values())
    body = (f"<h1>Итоги курса: {e(name)}</h1>"
            + (f"<p>{e(cal.course)}</p>" if cal and cal.course else "")
            + "<table><tr><th>Задание</th><th>Срок сдачи</th><th>Сдано</th><th>Опоздание</th><th class=num>Баллы</th>"
              "<th class=num>Штраф</th><th class=num>Итог</th></tr>" + "".join(rows)
            + f"<tr><th colspan=6>Всего по сданным заданиям</th><th class=num>{round(total, 2):g} из {maximum:g}</th>"
              "</tr></table>"
            + "<p>Баллы по каждому тесту — в отзыве (feedback) на каждое задание.</p>")
    if cal is not None:
        body += term_calendar.deadlines_html(cal, student)
    return _page(f"Итоги курса: {name}", body, lang="ru")


def write_stats(out, calendar=None, target=None, db_url=None, course_id=None, messages=None):
    """Write OUT/stats/index.html and a page per student (target: another folder); returns the index's path."""
    term = term_data.load_term(out, calendar=calendar, db_url=db_url, course_id=course_id, messages=messages)
    target = Path(target or Path(out) / "stats")
    (target / "students").mkdir(parents=True, exist_ok=True)
    index = target / "index.html"
    index.write_text(instructor_page(term), encoding="utf-8")
    for student in term.students:
        (target / "students" / student_file(student)).write_text(student_page(term, student), encoding="utf-8")
    return index
