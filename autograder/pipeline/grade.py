"""python -m autograder grade: from submissions to grades.csv, feedback and report.json.

Steps: check the settings, the gradebook and where jobs will run, before anything is written;
make sure the gradebook knows every assignment; bring the submissions into nbgrader's layout
(intake, in an unprivileged worker: it decodes the input); make a Job of every submission whose
files changed since the last run; grade them (executors: workers here, or a Dask cluster), each
job in a worker of its own that parses, restores, scans and grades its submission; record every
Result in the gradebook from this process only (gradebook), with its feedback and its cache file;
write grades.csv and report.json (report).

Whatever one submission holds is that submission's problem: the worker turns any exception into a
`grader-error` Result, and a Result that cannot be read is one too. Every file that a later run
reads back is written atomically and checked before it is trusted. A fault of the machine (a
full disk, a read-only or locked gradebook) stops the run with one `error:` line that says what
was saved and how to resume; Ctrl-C stops the running jobs and records what finished.

Output folder:
    grades.csv                       one row per student and assignment: score, late days, penalty, final score
    grades/<assignment>.csv          the same with a column per graded part of that assignment
    report.json                      every problem found, and a summary per submission
    feedback/<student>/<assignment>/ nbgrader's HTML feedback (--feedback-dir: elsewhere, e.g. a course's
                                     feedback/ folder, from which `nbgrader release_feedback` publishes it)
    gradebook.db                     the nbgrader gradebook (unless --db-url points elsewhere)
    results/<student>/<assignment>.json   each submission's Result: the cache that makes re-runs incremental
    cache/, work/                    the template gradebook; the workers' folders (kept for grader errors)
"""
import base64
import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..course import COURSE_ID, Course, build
from ..intake import collect, precheck
from ..judge import sandbox
from ..records import Job, Problem, Result, read_limited, write_atomic
from . import executors, gradebook, report

GRADER_VERSION = "4"                     # bump when grading itself changes, to invalidate cached results
STUDENT_FOLDER = re.compile(rf"{collect.SAFE_ID.pattern}|[A-Za-z0-9._\-]{{0,40}}~[0-9a-f]{{12}}")
STAGED_FILE = re.compile(r"[\w .()\-~]{1,120}")


class GradingError(RuntimeError):
    """Grading cannot start or go on; the message says what is wrong, what was saved and how to fix it."""


class SandboxUnavailable(GradingError):
    """The machine cannot isolate submissions and the instructor did not accept that."""


class Interrupted(GradingError):
    """The instructor pressed Ctrl-C; what finished is recorded."""


@dataclass(frozen=True)
class Settings:
    out: Path
    jobs: int = os.cpu_count() or 1
    timeout: int = 30                    # seconds per cell
    db_url: str = ""                     # empty: SQLite gradebook.db in the output folder
    allow_unsandboxed: bool = False
    assignment: str = ""                 # for LMS downloads whose file names do not tell
    lms_regexp: str = collect.DEFAULT_LMS_REGEXP
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    progress: bool = True
    feedback_dir: Path = None            # None: out/feedback
    scheduler: str = ""                  # a Dask scheduler's address (tcp://host:port): grade on its cluster
    cluster: str = ""                    # "local:N": a Dask LocalCluster of N workers on this machine
    course_id: str = COURSE_ID
    course: Course = field(default_factory=Course.here)   # the course whose solutions grade the submissions
    worker_user: str = executors.workers.DEFAULT_WORKER_USER   # as root: the uid grading workers run as
    calendar: Path = None                # the course calendar (docs/calendar.md): due dates, late policy, extensions
    statistics: bool = True              # write OUT/stats/ (autograder/term/stats.py) at the end

    def resolved(self):
        """These settings with absolute output folders (what a run uses)."""
        out = Path(self.out).resolve()
        return dataclasses.replace(self, out=out, feedback_dir=Path(self.feedback_dir or out / "feedback").resolve())

    @property
    def gradebook_url(self):
        return self.db_url or f"sqlite:///{self.out / 'gradebook.db'}"


# --- before anything is written ---------------------------------------------------------------------------
def check_settings(settings, source):
    """Refuse, in one line each, settings that cannot work, and a gradebook that cannot be used
    (before anything is written)."""
    if not Path(source).exists():
        raise GradingError(f"{source} does not exist: give a folder <student>/<assignment>/<notebook>.ipynb, "
                           "its zip, or an LMS download")
    if Path(source).is_file() and not collect.zipfile.is_zipfile(source):
        raise GradingError(f"{source} is neither a folder nor a zip archive")
    if settings.scheduler and settings.cluster:
        raise GradingError("--scheduler and --cluster exclude each other: give the address of a running Dask "
                           "scheduler, or local:N to start one here")
    if settings.scheduler and not re.fullmatch(r"(tcp|tls|inproc|ucx)://[^\s/]+(:\d+)?/?", settings.scheduler):
        raise GradingError(f"--scheduler {settings.scheduler!r} is not a Dask scheduler address: "
                           "write it as tcp://HOST:PORT (what `dask scheduler` prints)")
    if settings.cluster and not re.fullmatch(r"local:[1-9]\d*", settings.cluster):
        raise GradingError(f"--cluster {settings.cluster!r} is not understood: write local:N for a Dask "
                           "LocalCluster of N worker processes on this machine")
    try:
        pattern = re.compile(settings.lms_regexp)
    except re.error as exc:
        raise GradingError(f"--lms-regexp is not a regular expression ({exc})") from None
    if not {"student_id", "file_id"} <= set(pattern.groupindex):
        raise GradingError("--lms-regexp needs the named groups (?P<student_id>...) and (?P<file_id>...)")
    if settings.assignment and settings.assignment not in settings.course.assignment_ids:
        raise GradingError(f"--assignment {settings.assignment!r} is not an assignment of this course: "
                           f"{', '.join(settings.course.assignment_ids)}")
    load_calendar(settings)
    try:
        gradebook.check_url(settings.db_url)
        if settings.db_url or Path(settings.out / "gradebook.db").exists():
            gradebook.check(settings.gradebook_url, settings.course_id)
    except gradebook.GradebookError as exc:
        raise GradingError(str(exc)) from None


def load_calendar(settings):
    """The course calendar of the settings (None without one); a bad calendar is a GradingError naming the line."""
    if settings.calendar is None:
        return None
    from ..term import calendar
    try:
        return calendar.load(settings.calendar, assignments=settings.course.assignment_ids)
    except (calendar.CalendarError, OSError) as exc:
        raise GradingError(str(exc)) from None


def check_output(out):
    """The output folder exists and can be written (one line that says so otherwise)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / ".write-test", "ok")
        (out / ".write-test").unlink()
    except OSError as exc:
        raise GradingError(f"cannot write to {out} ({exc.strerror}): choose another --out or make it writable") from None


def check_sandbox(settings, scratch):
    """Probe the sandbox; refuse (SandboxUnavailable) when it is incomplete and not explicitly accepted."""
    probe = sandbox.probe(scratch)
    if probe.complete:
        return probe
    lines = "\n".join(f"  - {m}" for m in probe.missing)
    if not settings.allow_unsandboxed:
        raise SandboxUnavailable(
            "REFUSING TO GRADE: student code would run without these protections:\n" + lines +
            "\nInstall what is missing (see autograder/README.md), or pass --allow-unsandboxed to accept the risk.")
    print("WARNING: grading WITHOUT full isolation (--allow-unsandboxed). Missing:\n" + lines, file=sys.stderr)
    return probe


# --- the gradebooks ------------------------------------------------------------------------------------------
def prepare_gradebooks(settings):
    """A template SQLite gradebook with every assignment (made once per version of the solutions, checked
    before it is reused), and the course gradebook brought up to date. Returns the template's path."""
    cache = settings.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    version = hashlib.sha256(f"{settings.course.digest}\n{settings.course_id}".encode()).hexdigest()[:16]
    template = cache / f"template-{version}.db"
    for leftover in cache.glob(".template-*.db"):          # what a killed run was writing
        leftover.unlink(missing_ok=True)
    if not gradebook.is_complete(template, settings.course.assignment_ids):
        for old in cache.glob("template-*.db"):
            old.unlink()
        scratch = cache / f".template-{os.getpid()}.db"
        scratch.unlink(missing_ok=True)
        build.generate(settings.course, cache / "release", f"sqlite:///{scratch}", course_id=settings.course_id)
        shutil.rmtree(cache / "release", ignore_errors=True)
        os.replace(scratch, template)
    marker = cache / "gradebook-version"
    db_url = settings.gradebook_url
    current = marker.read_text() if marker.is_file() else ""
    if current != f"{db_url}\n{version}" or not gradebook.is_complete_url(db_url, settings.course.assignment_ids):
        default = settings.out / "gradebook.db"
        if db_url == f"sqlite:///{default}" and not default.exists():
            shutil.copyfile(template, default.with_name(".gradebook.db.new"))
            os.replace(default.with_name(".gradebook.db.new"), default)
            for result in _results(settings):                # a new gradebook beside results of earlier runs
                gradebook.record(db_url, result, settings.course_id)
        else:
            with gradebook.exclusive(db_url):               # another grader may be updating it right now
                build.generate(settings.course, cache / "release", db_url, course_id=settings.course_id)   # in place
            shutil.rmtree(cache / "release", ignore_errors=True)
        write_atomic(marker, f"{db_url}\n{version}")
    return template


# --- jobs ------------------------------------------------------------------------------------------------------
def hidden_paths(settings, source):
    """Folders hidden from kernels even if a visible folder held them."""
    hide = [settings.course.solutions, settings.course.root / ".git", settings.out, Path(source).resolve()]
    return [str(p) for p in dict.fromkeys(hide)]


def job_timeout(course, assignment, timeout):
    """A wall-clock ceiling for one job that the per-cell limits always reach first."""
    import nbformat
    cells = sum(sum(c.cell_type == "code" for c in nbformat.read(str(p), as_version=4).cells)
                for p in course.source_notebooks(assignment).values())
    return 120 + cells * (timeout + 5)


@dataclass(frozen=True)
class Planned:
    """A submission intake found, before its files are read into a Job: where it is and its cache key."""
    student: str
    assignment: str
    folder: Path
    names: tuple
    timestamp: str
    key: str


def plan(settings, manifest, staging):
    """([Planned], orphan problem rows) for the submissions intake found; only digests of their files are kept.

    The manifest comes from an unprivileged worker: every name in it is checked before it becomes a path."""
    version, planned, orphans = settings.course.digest, [], []
    for row in manifest.get("problems", []):
        problem = Problem(str(row.get("kind", "")), str(row.get("detail", "")), str(row.get("notebook", "")))
        orphans.append(problem.as_dict(str(row.get("student", ""))[:80], str(row.get("assignment", ""))[:60]))
    for entry in manifest.get("submissions", []):
        student, assignment = str(entry.get("student")), str(entry.get("assignment"))
        names = tuple(str(n) for n in entry.get("files", []))
        if (not STUDENT_FOLDER.fullmatch(student) or assignment not in settings.course.assignment_ids
                or not all(STAGED_FILE.fullmatch(n) for n in names)):
            orphans.append(Problem("grader-error", f"intake reported a submission that cannot be read back "
                                                   f"({student[:60]!r}, {assignment[:60]!r})").as_dict("unknown", ""))
            continue
        folder, timestamp = staging / student / assignment, str(entry.get("timestamp", ""))[:200]
        digests = {name: _digest(folder / name) for name in names}
        key = hashlib.sha256(json.dumps([GRADER_VERSION, version, settings.timeout, asdict(settings.limits), timestamp,
                                         digests]).encode()).hexdigest()
        planned.append(Planned(student, assignment, folder, names, timestamp, key))
    return planned, orphans


def jobs(settings, planned, hide):
    """The Job of each Planned submission, its files read only now (one at a time: memory stays flat)."""
    timeouts = {}
    for item in planned:
        if item.assignment not in timeouts:
            timeouts[item.assignment] = job_timeout(settings.course, item.assignment, settings.timeout)
        files, problems = {}, []
        for name in item.names:
            try:
                files[name] = base64.b64encode(read_bytes(item.folder / name, precheck.MAX_NOTEBOOK_BYTES + 1)).decode()
            except (OSError, ValueError) as exc:
                problems.append(Problem("unsafe-file", f"{name}: {exc}"))
        yield Job(item.student, item.assignment, item.key, files, settings.timeout, timeouts[item.assignment],
                  asdict(settings.limits), problems, hide, item.timestamp)


def _digest(path):
    """sha256 of the first MAX_NOTEBOOK_BYTES + 1 bytes of a staged file ("" if it cannot be read)."""
    try:
        return hashlib.sha256(read_bytes(path, precheck.MAX_NOTEBOOK_BYTES + 1)).hexdigest()
    except (OSError, ValueError):
        return ""


def read_bytes(path, limit):
    """At most `limit` bytes of a regular file that is not a link (files a worker wrote are not trusted)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("not a regular file")
        return f.read(limit)


def result_path(settings, student, assignment):
    return settings.out / "results" / student / f"{assignment}.json"


def cached_result(settings, student, assignment):
    """The Result recorded by an earlier run, or None (also for a file that does not read back as one)."""
    path = result_path(settings, student, assignment)
    try:
        result = Result.from_json(read_limited(path)) if path.exists() else None
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        return None
    return result if result is not None and (result.student, result.assignment) == (student, assignment) else None


# --- the run -------------------------------------------------------------------------------------------------
def grade(source, settings):
    """Grade every submission in `source`; returns the summary that report.json holds.

    Raises GradingError (nothing written) when the settings, the gradebook or the cluster cannot work,
    GradingError with what was saved when the machine fails mid-run, Interrupted on Ctrl-C.
    """
    started = time.time()
    settings = settings.resolved()
    check_settings(settings, source)
    run = executors.open_run(settings, source, check_sandbox)
    try:
        check_output(settings.out)
        with _faults(settings):
            summary = _grade(Path(source), settings, run)
    finally:
        run.close()
    summary.update(seconds=round(time.time() - started, 1), sandbox=run.sandbox_label, executor=run.kind)
    with _faults(settings):
        report.write(settings.out, summary)
    return summary


def _grade(source, settings, run):
    calendar = load_calendar(settings)
    template = prepare_gradebooks(settings)
    manifest, staging = run.intake(source, settings)
    planned, orphans = plan(settings, manifest, staging)
    staged = {(p.student, p.assignment): p.folder for p in planned}
    todo = [p for p in planned if not _unchanged(settings, p)]
    done = 0
    try:
        executor = run.executor(settings.course.files(template))
        if executor.dashboard and settings.progress:
            print(f"Dask dashboard: {executor.dashboard}", file=sys.stderr)
        bar = _progress(len(todo), settings.progress)
        for job, result in executor.results(jobs(settings, todo, hidden_paths(settings, source))):
            record_result(settings, result, staged.get((job.student, job.assignment)), calendar)   # this thread alone records
            done += 1
            if bar:
                bar.update(1)
                bar.set_postfix_str(job.name, refresh=False)
        if bar:
            bar.close()
    except KeyboardInterrupt:
        run.cancel()
        raise Interrupted(f"interrupted: {done} of {len(todo)} submission(s) graded in this run were recorded in "
                          f"{settings.out} (gradebook, results/, feedback); run the same command again to grade the "
                          f"other {len(todo) - done}") from None
    if calendar is not None:                                          # penalties follow every re-grade
        gradebook.apply_calendar(calendar, settings.gradebook_url, settings.course_id)
    refresh_feedback(settings, planned, staged, calendar)
    gradebook.export_csv(settings.gradebook_url, settings.out / "grades.csv", settings.course_id)
    shutil.rmtree(staging.parent, ignore_errors=True)                 # intake's folder: everything is recorded
    summary = report.summary(_results(settings), settings.gradebook_url, orphans, settings.course_id)
    summary.update(graded_now=len(todo))
    if settings.statistics:
        from ..term import stats
        summary["statistics"] = str(stats.write_stats(settings.out, calendar=calendar, db_url=settings.gradebook_url,
                                                      course_id=settings.course_id))
    return summary


def _unchanged(settings, planned):
    cached = cached_result(settings, planned.student, planned.assignment)
    return cached is not None and cached.key == planned.key and not cached.grader_error


def record_result(settings, result, staged=None, calendar=None):
    """Record a Result as soon as it is known: the gradebook, its feedback, then its cache file (last: a
    run killed before it grades that submission again)."""
    gradebook.record(settings.gradebook_url, result, settings.course_id)
    write_feedback(settings, result, staged, calendar)
    path = result_path(settings, result.student, result.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, result.to_json())


def write_feedback(settings, result, staged=None, calendar=None):
    """A Result's feedback pages, where missing or different, and nbgrader's exchange files beside them
    (`nbgrader release_feedback` reads timestamp.txt and submission_secret.txt). With a calendar, each page
    says the due date, the submission time, the late days and the penalty."""
    folder = settings.feedback_dir / result.student / result.assignment
    late = _late_html(calendar, result)
    for nb_id, page in result.feedback.items():
        page = page.replace("<body>", f"<body>\n{late}", 1) if late else page
        if not STAGED_FILE.fullmatch(nb_id):
            continue
        target = folder / f"{nb_id}.html"
        if not target.is_file() or target.read_text(errors="replace") != page:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(target, page)
    if staged is not None and folder.is_dir():
        for name in collect.EXCHANGE_FILES:
            try:
                data = read_bytes(staged / name, 4096).decode("utf-8", "replace")
            except (OSError, ValueError):
                continue
            write_atomic(folder / name, data)


def refresh_feedback(settings, planned, staged, calendar=None):
    """Feedback of every submission into the feedback folder where it is missing or out of date (it may be a new
    --feedback-dir, or a changed calendar)."""
    for item in planned:
        cached = cached_result(settings, item.student, item.assignment)
        if cached is not None:
            write_feedback(settings, cached, staged.get((item.student, item.assignment)), calendar)


def _late_html(calendar, result):
    """The deadline part of a feedback page (Russian), or "" without a calendar or a due date."""
    from ..term import calendar as term_calendar
    if calendar is None or result.assignment not in calendar.deadlines:
        return ""
    from datetime import datetime
    submitted = datetime.fromisoformat(result.submitted) if result.submitted else None
    raw = sum(g.score for g in result.grades)
    late = term_calendar.late_penalty(calendar, result.assignment, result.student, submitted, raw,
                                      sum(g.max_score for g in result.grades))
    return term_calendar.late_feedback_html(late, calendar)


def _results(settings):
    """Every Result in the results cache, one at a time (this run's and earlier ones), without feedback."""
    for path in sorted(settings.out.glob("results/*/*.json")):
        result = cached_result(settings, path.parent.name, path.stem)
        if result is not None:
            result.feedback = {}
            yield result


class _faults:
    """Turn a fault of the machine into one GradingError that says what happened, what is saved, how to resume."""

    def __init__(self, settings):
        self.settings = settings

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or isinstance(exc, (GradingError, KeyboardInterrupt)):
            return False
        saved = (f"results recorded so far are in {self.settings.out} (gradebook, results/); run the same command "
                 "again to grade what is missing")
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise GradingError(f"the disk is full ({exc.filename or 'while writing'}): {saved} once there is space") from None
        if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise GradingError(f"cannot write {exc.filename or 'the output'} ({exc.strerror}): {saved} with a writable "
                               "--out") from None
        message = gradebook.explain(exc, self.settings.gradebook_url)
        if message:
            raise GradingError(f"{message}; {saved}") from None
        return False


def _progress(total, enabled):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="grading", unit="submission")
