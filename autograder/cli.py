"""Argument parsing for python -m autograder (build, grade, release, demo)."""
import argparse
import os
import sys
from pathlib import Path


def cmd_build(args):
    from .build import build
    stale = build(check=args.check)
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
    from .grade import Settings
    from .sandbox import Limits
    limits = Limits(memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds, max_processes=args.max_processes)
    return Settings(out=Path(args.out), jobs=args.jobs, timeout=args.timeout, db_url=args.db_url,
                    allow_unsandboxed=args.allow_unsandboxed, assignment=args.assignment or "",
                    lms_regexp=args.lms_regexp, limits=limits, progress=not args.quiet,
                    feedback_dir=Path(args.feedback_dir) if args.feedback_dir else None,
                    scheduler=args.scheduler or "", cluster=args.cluster or "", course_id=args.course_id,
                    worker_user=args.worker_user)


def cmd_grade(args):
    from .grade import GradingError, Interrupted, grade
    from .report import print_summary
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
    return 0


def cmd_release(args):
    from .release import ReleaseError, release
    try:
        archive = release(args.out)
    except ReleaseError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"student edition: {archive.with_suffix('')}/ and {archive}")
    return 0


def cmd_demo(args):
    from .demo import demo
    return demo(Path(args.out), jobs=args.jobs)


def _grading_options(p):
    from .collect import DEFAULT_LMS_REGEXP
    from .sandbox import Limits
    from .course import COURSE_ID
    from .workers import DEFAULT_WORKER_USER
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Build the course and grade submissions with nbgrader.")
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
    p.set_defaults(func=cmd_release)
    p = sub.add_parser("demo", help="build the course and grade the bundled sample submissions")
    p.add_argument("--out", default="build/demo", help="output folder (default: build/demo)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    from .course import use_venv_tools
    use_venv_tools()                                     # nbgrader starts `alembic` from PATH
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
