"""Printing a grading summary for the instructor."""


def print_summary(summary, out):
    """A table of scores with the problems of each submission, then where the files are."""
    rows = summary["submissions"]
    width = max([len(r["student"]) for r in rows] + [7])
    print(f"\n{'student':<{width}}  {'assignment':<14} {'score':>12}  problems")
    for r in rows:
        score = f"{r['score']:g} / {r['max_score']:g}"
        print(f"{r['student']:<{width}}  {r['assignment']:<14} {score:>12}  {', '.join(r['problems']) or '-'}")
    print(f"\n{len(summary['problems'])} problem(s) found:")
    for p in summary["problems"]:
        who = "/".join(x for x in (p["student"], p["assignment"], p["notebook"]) if x)
        print(f"  [{p['kind']}] {who}: {p['detail']}")
    print(f"\ngrades:   {out / 'grades.csv'}\nreport:   {out / 'report.json'}\nfeedback: {out / 'feedback'}/")
