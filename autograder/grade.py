"""python -m autograder grade: from submissions to grades.csv, feedback and report.json.

Steps: check the settings, the gradebook and where jobs will run, before anything is written;
make sure the gradebook knows every assignment; bring the submissions into nbgrader's layout
(collect); check each one before running it (precheck); grade the ones whose content changed
since the last run (executors: child processes here, or a Dask cluster); record every result in
the gradebook from this process only (gradebook); write grades.csv and report.json (report).

Output folder:
    grades.csv                       one row per student and assignment, a column per graded part
    report.json                      every problem found, and a summary per submission
    feedback/<student>/<assignment>/ nbgrader's HTML feedback (--feedback-dir: elsewhere, e.g. a course's
                                     feedback/ folder, from which `nbgrader release_feedback` publishes it)
    gradebook.db                     the nbgrader gradebook (unless --db-url points elsewhere)
    results/<student>/<assignment>.json   each submission's Result: the cache that makes re-runs incremental
"""
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import build, collect, course, executors, gradebook, precheck, report, restore, sandbox
from .records import Job, Result

GRADER_VERSION = "3"                     # bump when grading itself changes, to invalidate cached results


class GradingError(RuntimeError):
    """Grading cannot start; the message says what is wrong and how to fix it. Nothing was written."""


class SandboxUnavailable(GradingError):
    """The machine cannot isolate submissions and the instructor did not accept that."""


@dataclass
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
    course_id: str = course.COURSE_ID


def _hash_files(paths):
    digest = hashlib.sha256()
    for path in sorted(map(str, paths)):
        digest.update(Path(path).name.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def solutions_hash():
    return _hash_files(p for a in course.assignment_ids() for p in course.source_notebooks(a).values())


def prepare_gradebooks(settings, db_url):
    """A template SQLite gradebook with every assignment, and the course gradebook brought up to date."""
    cache = settings.out / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    version = hashlib.sha256(f"{solutions_hash()}\n{settings.course_id}".encode()).hexdigest()[:16]
    template = cache / f"template-{version}.db"
    if not template.exists():
        for old in cache.glob("template-*.db"):
            old.unlink()
        build.generate(cache / "release", f"sqlite:///{template}", course_id=settings.course_id)
        shutil.rmtree(cache / "release", ignore_errors=True)
    marker = cache / "gradebook-version"
    if not marker.exists() or marker.read_text() != f"{db_url}\n{version}":
        if db_url == f"sqlite:///{settings.out / 'gradebook.db'}" and not (settings.out / "gradebook.db").exists():
            shutil.copyfile(template, settings.out / "gradebook.db")
        else:
            with gradebook.exclusive(db_url):               # another grader may be updating it right now
                build.generate(cache / "release", db_url, course_id=settings.course_id)   # adds or updates in place
            shutil.rmtree(cache / "release", ignore_errors=True)
        marker.write_text(f"{db_url}\n{version}")
    return template


def check_sandbox(settings):
    """Probe the sandbox; refuse (SandboxUnavailable) when it is incomplete and not explicitly accepted."""
    with tempfile.TemporaryDirectory() as scratch:
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


def _hidden_paths(settings, source):
    """Folders hidden from kernels even if they lie inside a visible one (the sandbox hides the samples itself)."""
    hide = [course.SOLUTIONS, course.REPO / ".git", settings.out.resolve()]
    if Path(source).is_dir():
        hide.append(Path(source).resolve())
    return [str(p) for p in dict.fromkeys(hide)]


def job_timeout(assignment, timeout):
    """A wall-clock ceiling for one job that the per-cell limits always reach first."""
    import nbformat
    cells = sum(sum(c.cell_type == "code" for c in nbformat.read(str(p), as_version=4).cells)
                for p in course.source_notebooks(assignment).values())
    return 120 + cells * (timeout + 5)


def plan(settings, source, hide):
    """Collect and pre-check the submissions. Returns (jobs to run, results known now, problems without a submission)."""
    found, stray = collect.collect(source, settings.out / "staging", settings.assignment or None, settings.lms_regexp)
    orphan_problems = [p.as_dict(s, a) for s, a, p in stray]
    jobs, ready, version = [], [], solutions_hash()
    for (student, assignment), files in sorted(found.items()):
        notebooks, problems = precheck.match_notebooks(assignment, files)
        for nb_id, path in notebooks.items():
            nb, _ = precheck.read_notebook(path)
            release, _ = precheck.read_notebook(course.ASSIGNMENTS / assignment / f"{nb_id}.ipynb")
            if release is not None:                         # what restoring from the release will change
                problems += restore.restore(nb, release, nb_id)[1]
            problems += precheck.scan_student_code(nb, nb_id, release)
        key = hashlib.sha256(json.dumps([GRADER_VERSION, version, settings.timeout, asdict(settings.limits),
                                         {k: _hash_files([v]) for k, v in notebooks.items()}]).encode()).hexdigest()
        cached = cached_result(settings, student, assignment)
        if cached is not None and cached.key == key and not cached.grader_error:
            continue                                          # unchanged since the last run: keep its grade
        if not notebooks:
            ready.append(Result(student, assignment, key, problems=problems))
            continue
        jobs.append(Job(student, assignment, key, {k: Path(v).read_text() for k, v in notebooks.items()},
                        settings.timeout, job_timeout(assignment, settings.timeout), asdict(settings.limits),
                        problems, hide))
    return jobs, ready, orphan_problems


def result_path(settings, student, assignment):
    return settings.out / "results" / student / f"{assignment}.json"


def cached_result(settings, student, assignment):
    """The Result recorded by an earlier run, or None."""
    path = result_path(settings, student, assignment)
    try:
        return Result.from_json(path.read_text()) if path.exists() else None
    except (ValueError, TypeError, KeyError):                 # written by an older grader: grade again
        return None


def check_settings(settings):
    """Refuse, in one line each, settings that cannot work, and a gradebook that cannot be used
    (before anything is written)."""
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
        gradebook.check_url(settings.db_url)
        if settings.db_url:
            gradebook.check(settings.db_url, settings.course_id)
    except gradebook.GradebookError as exc:
        raise GradingError(str(exc)) from None


def open_executor(settings):
    """Check and connect to where the jobs will run, before anything is written.

    Returns (a function that makes the executor from the course files, what sandboxes the kernels).
    """
    if not (settings.scheduler or settings.cluster):
        probe = check_sandbox(settings)
        return (lambda files: executors.LocalExecutor(settings.jobs, files, settings.out / "work", probe),
                "bubblewrap" if probe.bwrap else "none")
    try:
        from distributed import Client
    except ImportError:
        raise GradingError("grading on a Dask cluster needs dask.distributed: pip install 'rnncore[cluster]'") from None
    cluster = None
    if settings.cluster:
        cluster = executors.local_cluster(int(settings.cluster.split(":")[1]))
        client = Client(cluster)
    else:
        try:
            client = Client(settings.scheduler, timeout=10)
        except OSError as exc:
            raise GradingError(f"cannot reach the Dask scheduler at {settings.scheduler} ({exc}); start it "
                               "(`dask scheduler`) or check the address and that this machine may connect") from None
    lacking = {address: gaps for address, gaps in executors.check_workers(client).items() if gaps}
    fatal = {a: [g for g in gaps if "daemonic" in g or not settings.allow_unsandboxed] for a, gaps in lacking.items()}
    if not client.scheduler_info()["workers"] or any(fatal.values()):
        client.close()
        if cluster is not None:
            cluster.close()
        if not lacking:
            raise GradingError(f"the Dask cluster at {settings.scheduler} has no workers: start some (`dask worker "
                               f"{settings.scheduler}`)")
        lines = "\n".join(f"  - {address}: {gap}" for address, gaps in sorted(fatal.items()) for gap in gaps)
        raise SandboxUnavailable("REFUSING TO GRADE: these Dask workers cannot grade safely:\n" + lines +
                                 "\nInstall what is missing on them (see autograder/README.md), or pass "
                                 "--allow-unsandboxed to accept running student code without a sandbox.")
    if lacking:
        print("WARNING: grading WITHOUT full isolation (--allow-unsandboxed) on: " + ", ".join(sorted(lacking)),
              file=sys.stderr)
    client.run(executors.warm_up_worker, wait=False)               # while this process collects the submissions
    return (lambda files: executors.DaskExecutor(client, files, cluster),
            "incomplete on some workers" if lacking else "bubblewrap")


def grade(source, settings):
    """Grade every submission in `source`; returns the summary that report.json holds.

    Raises GradingError (nothing written) when the settings, the gradebook or the cluster cannot work.
    """
    started = time.time()
    settings.out = Path(settings.out).resolve()
    settings.feedback_dir = Path(settings.feedback_dir or settings.out / "feedback").resolve()
    check_settings(settings)
    db_url = settings.db_url or f"sqlite:///{settings.out / 'gradebook.db'}"
    make_executor, sandboxed = open_executor(settings)
    settings.out.mkdir(parents=True, exist_ok=True)
    template = prepare_gradebooks(settings, db_url)
    jobs, ready, orphan_problems = plan(settings, source, _hidden_paths(settings, source))
    for result in ready:                                           # nothing to run: no notebook to grade
        record_result(settings, db_url, result)
    executor = make_executor(course.course_files(template))
    try:
        if executor.dashboard and settings.progress:
            print(f"Dask dashboard: {executor.dashboard}", file=sys.stderr)
        bar = _progress(len(jobs), settings.progress)
        for job, result in executor.results(jobs):                 # this thread alone writes the gradebook
            record_result(settings, db_url, result)
            if bar:
                bar.update(1)
                bar.set_postfix_str(job.name, refresh=False)
        if bar:
            bar.close()
    finally:
        executor.close()
    results = cached_results(settings)
    write_feedback(settings, results)
    record_exchange_files(settings, db_url)
    gradebook.export_csv(db_url, settings.out / "grades.csv", settings.course_id)
    summary = report.summary(results, db_url, orphan_problems, settings.course_id)
    summary.update(graded_now=len(ready) + len(jobs), seconds=round(time.time() - started, 1),
                   sandbox=sandboxed, executor="dask" if (settings.scheduler or settings.cluster) else "local")
    report.write(settings.out, summary)
    return summary


def record_result(settings, db_url, result):
    """Record a result in the gradebook and the results cache as soon as it is known."""
    gradebook.record(db_url, result, settings.course_id)
    path = result_path(settings, result.student, result.assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.to_json())


def cached_results(settings):
    """Every Result in the results cache (of this run and earlier ones), by student and assignment."""
    paths = sorted(settings.out.glob("results/*/*.json"))
    return [r for r in (cached_result(settings, p.parent.name, p.stem) for p in paths) if r is not None]


def write_feedback(settings, results):
    """The results' feedback into the feedback folder, where it is missing or out of date."""
    for result in results:
        folder = settings.feedback_dir / result.student / result.assignment
        for nb_id, html in result.feedback.items():
            target = folder / f"{nb_id}.html"
            if not target.exists() or target.read_text() != html:
                folder.mkdir(parents=True, exist_ok=True)
                target.write_text(html)


def record_exchange_files(settings, db_url):
    """For submissions that came through nbgrader's exchange: their submission time into the gradebook, and
    timestamp.txt and submission_secret.txt beside their feedback (`nbgrader release_feedback` reads both)."""
    for staged in sorted(settings.out.glob("staging/*/*/")):
        student, assignment = staged.parent.name, staged.name
        if (staged / "timestamp.txt").is_file():
            gradebook.record_timestamp(db_url, settings.course_id, student, assignment, (staged / "timestamp.txt").read_text())
        feedback = settings.feedback_dir / student / assignment
        if feedback.is_dir():
            for name in collect.EXCHANGE_FILES:
                if (staged / name).is_file():
                    shutil.copyfile(staged / name, feedback / name)


def _progress(total, enabled):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="grading", unit="submission")
