"""Printing a grading summary for the instructor.

Student ids, file names and problem details may hold anything a student typed, terminal escape
sequences included: everything printed goes through `printable` (records.plain_text), which replaces
control characters, so a submission cannot rewrite or hide lines of the instructor's terminal.
"""
from .records import plain_text as printable


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
