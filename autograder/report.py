"""The grading report: report.json (the one place that writes it) and the summary printed for the instructor.

report.json holds `submissions` (student, assignment, score, max_score, the kinds of its problems),
`problems` (every Problem as a row with student and assignment) and facts about the run.
Student ids, file names and problem details may hold anything a student typed, terminal escape
sequences included: everything printed goes through `printable` (records.plain_text), which replaces
control characters, so a submission cannot rewrite or hide lines of the instructor's terminal.
"""
import json

from . import gradebook
from .records import Problem
from .records import plain_text as printable


def summary(results, db_url, orphan_problems, course_id):
    """The report of Results, with scores and lateness as the gradebook knows them.

    orphan_problems: problem rows without a submission.
    """
    submissions, problems = [], list(orphan_problems)
    for result in results:
        found = list(result.problems)
        late = late_problem(db_url, result.student, result.assignment, course_id)
        found += [late] if late else []
        problems += [p.as_dict(result.student, result.assignment) for p in found]
        score, max_score = gradebook.submission_score(db_url, result.student, result.assignment, course_id) or (0.0, 0.0)
        submissions.append({"student": result.student, "assignment": result.assignment, "score": score,
                            "max_score": max_score, "problems": sorted({p.kind for p in found})})
    return {"submissions": submissions, "problems": problems}


def _duration(seconds):
    minutes, hours = round(seconds / 60), seconds / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{minutes} min" if minutes >= 1 else f"{round(seconds)} s"


def late_problem(db_url, student, assignment, course_id):
    """A `late` Problem when the gradebook's submission time is after the assignment's due date, else None."""
    seconds, duedate = gradebook.lateness(db_url, student, assignment, course_id)
    if seconds <= 0:
        return None
    return Problem("late", f"submitted {_duration(seconds)} ({seconds:.0f} s) after the due date {duedate} UTC")


def write(out, summary):
    (out / "report.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))


def print_summary(summary, out):
    """A table of scores with the problems of each submission, then where the files are."""
    rows = summary["submissions"]
    width = min(max([len(printable(r["student"], 40)) for r in rows] + [7]), 40)
    print(f"\n{'student':<{width}}  {'assignment':<14} {'score':>12}  problems")
    for r in rows:
        score = f"{r['score']:g} / {r['max_score']:g}"
        print(f"{printable(r['student'], 40):<{width}}  {printable(r['assignment'], 14):<14} {score:>12}  "
              f"{printable(', '.join(r['problems'])) or '-'}")
    print(f"\n{len(summary['problems'])} problem(s) found:")
    for p in summary["problems"]:
        who = "/".join(printable(x, 60) for x in (p["student"], p["assignment"], p["notebook"]) if x)
        print(f"  [{printable(p['kind'], 40)}] {who}: {printable(p['detail'])}")
    print(f"\ngrades:   {out / 'grades.csv'}\nreport:   {out / 'report.json'}\nfeedback: {out / 'feedback'}/")
