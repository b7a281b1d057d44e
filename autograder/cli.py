"""Argument parsing for python -m autograder (build, grade, audit, release, demo; calendar, stats, export, similarity)."""
import argparse
import os
import sys
from pathlib import Path


def cmd_build(args):
    from .course.build import build
    stale = build(args.course, check=args.check)
    if args.check:
        if stale:
            print("assignments/ is out of date with solutions/; run `python -m autograder build`:")
            for path in stale:
                print(f"  {path}")
            return 1
        print("assignments/ is up to date")
        return 0
    print(f"regenerated {len(stale)} notebook(s)" + "".join(f"\n  {p}" for p in stale))
    return 0


def _settings(args):
    from .judge.sandbox import Limits
    from .pipeline.grade import Settings
    limits = Limits(memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds, max_processes=args.max_processes)
    return Settings(out=Path(args.out), jobs=args.jobs, timeout=args.timeout, db_url=args.db_url,
                    allow_unsandboxed=args.allow_unsandboxed, assignment=args.assignment or "",
                    lms_regexp=args.lms_regexp, limits=limits, progress=not args.quiet,
                    feedback_dir=Path(args.feedback_dir) if args.feedback_dir else None,
                    scheduler=args.scheduler or "", cluster=args.cluster or "", course_id=args.course_id, course=args.course,
                    worker_user=args.worker_user, calendar=Path(args.calendar) if args.calendar else None)


def cmd_grade(args):
    from .pipeline.grade import GradingError, Interrupted, grade
    from .pipeline.report import print_summary
    settings = _settings(args).resolved()
    try:
        summary = grade(args.submissions, settings)
    except Interrupted as exc:
        print(f"{exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted before grading started: nothing was recorded; run the same command again", file=sys.stderr)
        return 130
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_summary(summary, settings.out, settings.feedback_dir)
    if summary.get("statistics"):
        print(f"statistics: {summary['statistics']}")
    return 0


def cmd_release(args):
    from .course.release import ReleaseError, release
    from .term.calendar import CalendarError
    try:
        archive = release(args.course, args.out, _load_calendar(args.calendar))
    except (ReleaseError, CalendarError) as exc:
        print(exc if str(exc).startswith("error:") else f"error: {exc}", file=sys.stderr)
        return 2
    print(f"student edition: {archive.with_suffix('')}/ and {archive}")
    return 0


def cmd_audit(args):
    from .course import audit
    report = audit.run(args.assignments or None, out=args.out, jobs=args.jobs, timeout=args.timeout, course=args.course)
    audit.write_report(report, args.out)
    found = audit.problems(report)
    print(f"audit: {sum(e['mutants'] for e in report['assignments'].values())} wrong implementations, "
          f"{len(found)} problem(s), {report['seconds']} s; report in {Path(args.out) / 'audit.md'} and audit.json")
    for p in found:
        print(f"  {p['kind']}: {p.get('assignment', '')}/{p['test']}: {p['detail'][:300]}")
    return 1 if found else 0


def cmd_demo(args):
    from .course.demo import demo
    return demo(args.course, Path(args.out), jobs=args.jobs)


def _load_calendar(path):
    """The calendar at path (None without one); CalendarError propagates as an `error:` line."""
    from .term.calendar import load
    if not path:
        return None
    return load(path)


def cmd_calendar(args):
    from .term import calendar as term_calendar
    try:
        calendar = term_calendar.load(args.calendar)
    except term_calendar.CalendarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.markdown:
        print(term_calendar.deadlines_markdown(calendar, args.student), end="")
    elif args.html:
        print(term_calendar.deadlines_html(calendar, args.student))
    else:
        print(term_calendar.describe(calendar))
    return 0


def cmd_stats(args):
    from .term.calendar import CalendarError
    from .term.data import TermDataError
    from .term.stats import write_stats
    try:
        index = write_stats(Path(args.out), calendar=_load_calendar(args.calendar), db_url=args.db_url or None,
                            course_id=args.course_id, target=args.to)
    except (CalendarError, TermDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"students' pages: {index.parent / 'students'}/\nstatistics: {index}")
    return 0


def _pairs(values, option, number=False):
    """{key: value} from repeated KEY=VALUE options (ValueError naming the option)."""
    found = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{option} {item!r}: write {option} ASSIGNMENT=VALUE")
        if number:
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"{option} {item!r}: {value!r} is not a number") from None
        found[key.strip()] = value if number else value.strip()
    return found


def cmd_export(args):
    from .term import lms
    from .term.calendar import CalendarError
    from .term.data import TermDataError
    try:
        calendar = _load_calendar(args.calendar)
        columns = _pairs(args.column, "--column")
        out_of = _pairs(args.out_of, "--out-of", number=True)
        if args.from_gradebook:
            grades = lms.grades_from_gradebook(args.from_gradebook, args.course_id)
        else:
            grades = lms.grades_from_out(Path(args.out), calendar=calendar, db_url=args.db_url or None,
                                         course_id=args.course_id)
        roster = calendar.roster if calendar is not None and calendar.roster else None
        if args.roster:
            from .term.calendar import read_roster
            roster = read_roster(args.roster)
        titles = {a: d.title for a, d in calendar.deadlines.items()} if calendar is not None else {}
        report = lms.fill(args.lms_file, grades, args.to, roster=roster, titles=titles, columns=columns,
                          out_of=out_of, missing_zero=args.missing_zero)
    except (CalendarError, TermDataError, lms.ExportError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0


def cmd_similarity(args):
    from .term import similarity
    try:
        report = similarity.check(args.submissions, assignments=args.assignment or None, threshold=args.threshold,
                                  reference_threshold=args.reference_threshold, min_overlap=args.min_overlap,
                                  course=args.course)
    except similarity.SimilarityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    page = similarity.write(report, Path(args.out))
    for assignment, n in report.documents.items():
        pairs = [m for m in report.pairs if m.assignment == assignment]
        refs = [m for m in report.references if m.assignment == assignment]
        print(f"{assignment}: {n} submissions, {len(pairs)} similar pair(s), {len(refs)} match(es) with a reference")
        for m in pairs[:5]:
            print(f"  {m.first} ~ {m.second}: {m.first_similarity:.0%} / {m.second_similarity:.0%}")
    print(f"report: {page}\n        {page.with_suffix('.json')}")
    return 0


def _grading_options(p):
    from .course import COURSE_ID
    from .intake.collect import DEFAULT_LMS_REGEXP
    from .judge.sandbox import Limits
    from .pipeline.workers import DEFAULT_WORKER_USER
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: cores)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="grade on a running Dask cluster: its scheduler's address, tcp://HOST:PORT")
    where.add_argument("--cluster", help="local:N: grade on a Dask LocalCluster of N worker processes started here")
    p.add_argument("--timeout", type=int, default=30, help="seconds a cell may run before it is interrupted")
    p.add_argument("--db-url", default="", help="gradebook URL (default: SQLite OUT/gradebook.db); "
                                                 "e.g. postgresql://user@host/course")
    p.add_argument("--course-id", default=COURSE_ID, help=f"the gradebook's course id (default: {COURSE_ID})")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="grade even if the sandbox is missing protections (they are listed loudly)")
    p.add_argument("--assignment", help="assignment id for an LMS download whose file names do not tell")
    p.add_argument("--lms-regexp", default=DEFAULT_LMS_REGEXP,
                   help="regular expression with (?P<student_id>...) and (?P<file_id>...) for LMS file names")
    p.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="memory limit of a kernel")
    p.add_argument("--cpu-seconds", type=int, default=Limits.cpu_seconds, help="CPU time limit of a kernel")
    p.add_argument("--max-processes", type=int, default=Limits.max_processes, help="process limit of a kernel")
    p.add_argument("--worker-user", default=DEFAULT_WORKER_USER,
                   help=f"as root: the account grading workers run as (default {DEFAULT_WORKER_USER}; created if missing)")
    p.add_argument("--calendar", help="the course calendar (TOML, docs/calendar.md): due dates, late policy, extensions; "
                                       "grades.csv gets final scores, feedback pages the deadline")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv=None):
    from .course import COURSE_ID
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Build the course and grade submissions with nbgrader.")
    parser.add_argument("--course", help="the course folder (solutions/, assignments/; default: this repository)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build", help="regenerate assignments/ from solutions/")
    p.add_argument("--check", action="store_true", help="only check; exit 1 and list out-of-date notebooks")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("grade", help="grade a folder or zip of submissions")
    p.add_argument("submissions", help="folder <student>/<assignment>/<notebook>.ipynb, its zip, or an LMS zip")
    p.add_argument("--out", default="grading-out", help="output folder (default: grading-out)")
    p.add_argument("--feedback-dir", help="where the HTML feedback goes, as FEEDBACK_DIR/<student>/<assignment>/"
                                          "<notebook>.html (default: OUT/feedback); a course's feedback/ folder "
                                          "is what `nbgrader release_feedback` publishes from")
    _grading_options(p)
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("release", help="write the student edition (no solutions, no hidden tests) to OUT and OUT.zip")
    p.add_argument("out", help="folder to write; an earlier edition there is replaced, anything else is refused")
    p.add_argument("--calendar", help="the course calendar: its deadlines go into the edition's README")
    p.set_defaults(func=cmd_release)
    p = sub.add_parser("audit", help="grade wrong implementations of every graded function: do the tests fail them?")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--out", default="build/audit", help="output folder: audit.md, audit.json, the graded submissions "
                                                          "(default: build/audit)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: cores)")
    p.add_argument("--timeout", type=int, default=20, help="seconds a cell may run before it is interrupted")
    p.set_defaults(func=cmd_audit)
    p = sub.add_parser("demo", help="build the course and grade the bundled sample submissions")
    p.add_argument("--out", default="build/demo", help="output folder (default: build/demo)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("calendar", help="check the course calendar (deadlines, late policy, extensions) and show it")
    p.add_argument("calendar", help="the calendar file (TOML, see docs/calendar.md)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--markdown", action="store_true", help="print the students' deadlines section (Markdown)")
    shown.add_argument("--html", action="store_true", help="print the students' deadlines section (HTML)")
    p.add_argument("--student", help="with --markdown/--html: add this student's extended due dates")
    p.set_defaults(func=cmd_calendar)
    p = sub.add_parser("stats", help="statistics of a grading run: OUT/stats/index.html and a page per student")
    p.add_argument("out", help="the grading output folder (grade --out)")
    p.add_argument("--calendar", help="the course calendar: late days and penalties")
    p.add_argument("--to", help="where to write (default: OUT/stats)")
    p.add_argument("--db-url", default="", help="the gradebook, for submission times (default: OUT/gradebook.db)")
    p.add_argument("--course-id", default=COURSE_ID)
    p.set_defaults(func=cmd_stats)
    p = sub.add_parser("export", help="fill an LMS gradebook export (Moodle or Canvas CSV) with the final scores")
    p.add_argument("out", nargs="?", default="grading-out", help="the grading output folder (grade --out)")
    p.add_argument("--lms-file", required=True, help="the gradebook CSV exported from the LMS")
    p.add_argument("--to", required=True, help="the file to write and import into the LMS")
    p.add_argument("--calendar", help="the course calendar: late penalties, titles, the roster (emails)")
    p.add_argument("--roster", help="nbgrader's roster CSV (id,first_name,last_name,email) to match students by email")
    p.add_argument("--column", action="append", help="ASSIGNMENT=HEADER: the LMS column of an assignment (repeatable)")
    p.add_argument("--out-of", action="append", help="ASSIGNMENT=POINTS: rescale to the LMS grade item's maximum")
    p.add_argument("--missing-zero", action="store_true", help="write 0 for a matched student who submitted nothing")
    p.add_argument("--from-gradebook", metavar="DB_URL", help="read the final scores from this nbgrader gradebook "
                                                              "(as `nbgrader export` computes them) instead of OUT")
    p.add_argument("--db-url", default="", help="the gradebook, for submission times (default: OUT/gradebook.db)")
    p.add_argument("--course-id", default=COURSE_ID)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("similarity", help="similar solution cells between submissions, and with rnncore")
    p.add_argument("submissions", help="a folder <student>/<assignment>/<notebook>.ipynb, or a grading output folder")
    p.add_argument("--out", default="similarity-out", help="where similarity.html and .json go (default: similarity-out)")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--threshold", type=float, default=0.5, help="share of a submission's code found in another "
                                                                 "that is reported (default 0.5)")
    p.add_argument("--reference-threshold", type=float, default=None,
                   help="the same for rnncore and the reference solution (default: --threshold)")
    p.add_argument("--min-overlap", type=int, default=80, help="matching tokens below which nothing is reported")
    p.set_defaults(func=cmd_similarity)
    args = parser.parse_args(argv)
    from .course import Course
    args.course = Course(Path(args.course).resolve()) if args.course else Course.here()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
