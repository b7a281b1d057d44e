"""The grading report: report.json (the one place that writes it) and the summary printed for the instructor.

report.json holds `submissions` (student, assignment, score, max_score, the kinds of its problems),
`problems` (every Problem as a row with student and assignment; at most records.MAX_PROBLEMS_PER_KIND
of a kind per submission) and facts about the run. Student ids, file names and problem details may
hold anything a student typed, terminal escape sequences included: everything printed goes through
`printable` (records.plain_text), which replaces control characters, so a submission cannot rewrite
or hide lines of the instructor's terminal. The terminal shows at most MAX_PRINTED_PROBLEMS problems.
"""
import json

from ..records import Problem, write_atomic
from ..records import plain_text as printable

MAX_PRINTED_PROBLEMS = 200


def summary(results, db_url, orphan_problems, course_id):
    """The report of Results (an iterable, read once), with scores and lateness as the gradebook knows them.

    orphan_problems: problem rows without a submission. One gradebook session for the whole report.
    """
    from nbgrader.api import Gradebook, MissingEntry
    submissions, problems = [], list(orphan_problems)
    with Gradebook(db_url, course_id) as gb:
        for result in results:
            try:
                found = gb.find_submission(result.assignment, result.student)
                score, max_score = float(found.score), float(found.max_score)
                late = late_problem(float(found.total_seconds_late), found.duedate)
            except MissingEntry:
                score, max_score, late = 0.0, 0.0, None
            rows = list(result.problems) + ([late] if late else [])
            problems += [p.as_dict(result.student, result.assignment) for p in rows]
            submissions.append({"student": result.student, "assignment": result.assignment, "score": score,
                                "max_score": max_score, "problems": sorted({p.kind for p in rows})})
    return {"submissions": submissions, "problems": problems}


def _duration(seconds):
    minutes, hours = round(seconds / 60), seconds / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{minutes} min" if minutes >= 1 else f"{round(seconds)} s"


def late_problem(seconds, duedate):
    """A `late` Problem when a submission came `seconds` after its due date, else None."""
    if seconds <= 0:
        return None
    return Problem("late", f"submitted {_duration(seconds)} ({seconds:.0f} s) after the due date {duedate} UTC")


def write(out, summary):
    write_atomic(out / "report.json", json.dumps(summary, indent=1, ensure_ascii=False))


def print_summary(summary, out, feedback_dir=None):
    """A table of scores with the problems of each submission, then where the files are."""
    rows = summary["submissions"]
    width = min(max([len(printable(r["student"], 40)) for r in rows] + [7]), 40)
    print(f"\n{'student':<{width}}  {'assignment':<14} {'score':>12}  problems")
    for r in rows:
        score = f"{r['score']:g} / {r['max_score']:g}"
        print(f"{printable(r['student'], 40):<{width}}  {printable(r['assignment'], 14):<14} {score:>12}  "
              f"{printable(', '.join(r['problems']), 300) or '-'}")
    found = summary["problems"]
    print(f"\n{len(found)} problem(s) found:")
    for p in found[:MAX_PRINTED_PROBLEMS]:
        who = "/".join(printable(x, 60) for x in (p["student"], p["assignment"], p["notebook"]) if x)
        print(f"  [{printable(p['kind'], 40)}] {who}: {printable(p['detail'], 500)}")
    if len(found) > MAX_PRINTED_PROBLEMS:
        print(f"  ... and {len(found) - MAX_PRINTED_PROBLEMS} more: see {out / 'report.json'}")
    print(f"\ngrades:   {out / 'grades.csv'}\nreport:   {out / 'report.json'}\nfeedback: {feedback_dir or out / 'feedback'}/")
