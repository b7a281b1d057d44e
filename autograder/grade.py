"""python -m autograder grade: from submissions to grades.csv, feedback and report.json.

Steps: check the sandbox; make sure the gradebook knows every assignment; bring the submissions
into nbgrader's layout (collect); check each one before running it (precheck); grade the ones
whose content changed since the last run in parallel worker processes (worker); record every
result in the gradebook from this process only (gradebook); write grades.csv and report.json.

Output folder:
    grades.csv                       one row per student and assignment, a column per graded part
    report.json                      every problem found, and a summary per submission
    feedback/<student>/<assignment>/ nbgrader's HTML feedback (--feedback-dir: elsewhere, e.g. a course's
                                     feedback/ folder, from which `nbgrader release_feedback` publishes it)
    gradebook.db                     the nbgrader gradebook (unless --db-url points elsewhere)
    results/<student>/<assignment>.json   the cache that makes re-runs incremental
"""
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import build, collect, course, gradebook, precheck, restore, sandbox, worker

GRADER_VERSION = "2"                     # bump when grading itself changes, to invalidate cached results


class SandboxUnavailable(RuntimeError):
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
    version = solutions_hash()[:16]
    template = cache / f"template-{version}.db"
    if not template.exists():
        for old in cache.glob("template-*.db"):
            old.unlink()
        build.generate(cache / "release", f"sqlite:///{template}")
        shutil.rmtree(cache / "release", ignore_errors=True)
    marker = cache / "gradebook-version"
    if not marker.exists() or marker.read_text() != f"{db_url}\n{version}":
        if db_url == f"sqlite:///{settings.out / 'gradebook.db'}" and not (settings.out / "gradebook.db").exists():
            shutil.copyfile(template, settings.out / "gradebook.db")
        else:
            build.generate(cache / "release", db_url)          # adds or updates assignments in place
            shutil.rmtree(cache / "release", ignore_errors=True)
        marker.write_text(f"{db_url}\n{version}")
    return template


def check_sandbox(settings):
    """Probe the sandbox; refuse (SandboxUnavailable) when it is incomplete and not explicitly accepted."""
    report = sandbox.probe(settings.out / "cache" / "probe")
    if report.complete:
        return report
    lines = "\n".join(f"  - {m}" for m in report.missing)
    if not settings.allow_unsandboxed:
        raise SandboxUnavailable(
            "REFUSING TO GRADE: student code would run without these protections:\n" + lines +
            "\nInstall what is missing (see autograder/README.md), or pass --allow-unsandboxed to accept the risk.")
    print("WARNING: grading WITHOUT full isolation (--allow-unsandboxed). Missing:\n" + lines, file=sys.stderr)
    return report


def _hidden_paths(settings, source):
    """Folders hidden from kernels even if they lie inside a visible one (the sandbox hides the samples itself)."""
    hide = [course.SOLUTIONS, course.REPO / ".git", settings.out.resolve()]
    if Path(source).is_dir():
        hide.append(Path(source).resolve())
    return [str(p) for p in dict.fromkeys(hide)]


def _job_timeout(assignment, timeout):
    import nbformat
    cells = sum(sum(c.cell_type == "code" for c in nbformat.read(str(p), as_version=4).cells)
                for p in course.source_notebooks(assignment).values())
    return 120 + cells * (timeout + 5)             # a ceiling that the per-cell limits always reach first


def worker_processes():
    """Child processes forked from a server that has imported nbgrader once (importing it takes seconds)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["autograder.worker", "matplotlib.pyplot", "rnncore"])   # what every worker imports
    return context


def run_worker(job, wall_timeout, processes=None):
    """Run one job in a child process; any failure becomes a grader-error result, never a lost grade."""
    workdir = Path(job["workdir"])
    workdir.mkdir(parents=True, exist_ok=True)
    job_file, log = workdir / "job.json", workdir / "worker.log"
    job_file.write_text(json.dumps(job))
    proc = (processes or worker_processes()).Process(target=worker.run_job, args=(str(job_file), str(log)))
    proc.start()
    proc.join(wall_timeout)
    if proc.is_alive():                                       # stop the worker and its kernel together
        os.killpg(proc.pid, signal.SIGKILL)
        proc.join()
    result_file = Path(job["result"])
    if result_file.exists():
        return json.loads(result_file.read_text())
    tail = log.read_text()[-1500:] if log.exists() else ""
    reason = (f"grading did not finish within {wall_timeout} s" if proc.exitcode == -signal.SIGKILL
              else f"the grading process exited with code {proc.exitcode}")
    return {"student": job["student"], "assignment": job["assignment"], "key": job["key"], "grades": [],
            "problems": [{"kind": "grader-error", "detail": f"{reason}; recorded as 0 for review. {tail}"}]}


def plan(settings, source):
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
        prechecked = [p.as_dict(student, assignment) for p in problems]
        key = hashlib.sha256(json.dumps([GRADER_VERSION, version, settings.timeout, asdict(settings.limits),
                                         {k: _hash_files([v]) for k, v in notebooks.items()}]).encode()).hexdigest()
        result_path = settings.out / "results" / student / f"{assignment}.json"
        if result_path.exists():
            cached = json.loads(result_path.read_text())
            if cached.get("key") == key and not any(p["kind"] == "grader-error" for p in cached["problems"]):
                continue                                          # unchanged since the last run: keep its grade
        if not notebooks:
            ready.append({"student": student, "assignment": assignment, "key": key, "grades": [],
                          "problems": [], "prechecks": prechecked})
            continue
        workdir = settings.out / "work" / f"{student}--{assignment}"
        shutil.rmtree(workdir, ignore_errors=True)
        jobs.append({"student": student, "assignment": assignment, "key": key, "prechecks": prechecked,
                     "notebooks": {k: str(v) for k, v in notebooks.items()}, "workdir": str(workdir),
                     "timeout": settings.timeout, "limits": asdict(settings.limits),
                     "feedback_dir": str(settings.feedback_dir / student / assignment),
                     "result": str(workdir / "result.json")})
    return jobs, ready, orphan_problems


def grade(source, settings):
    """Grade every submission in `source`; returns the summary that report.json holds."""
    started = time.time()
    settings.out = Path(settings.out).resolve()
    settings.out.mkdir(parents=True, exist_ok=True)
    settings.feedback_dir = Path(settings.feedback_dir or settings.out / "feedback").resolve()
    course.use_venv_tools()
    db_url = settings.db_url or f"sqlite:///{settings.out / 'gradebook.db'}"
    probe = check_sandbox(settings)
    template = prepare_gradebooks(settings, db_url)
    jobs, ready, orphan_problems = plan(settings, source)
    hide = _hidden_paths(settings, source)
    for job in jobs:
        job.update(template_db=str(template), hide=hide,
                   sandbox={"enabled": probe.bwrap != "", "cgroup_root": probe.cgroup_root})
    for result in ready:                                           # nothing to run: no notebook to grade
        keep(settings, db_url, result)
    processes = worker_processes()
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        futures = {pool.submit(run_worker, job, _job_timeout(job["assignment"], settings.timeout), processes): job
                   for job in jobs}
        bar = _progress(len(futures), settings.progress)
        for future in as_completed(futures):                       # this thread alone writes the gradebook
            job = futures[future]
            result = {**future.result(), "prechecks": job["prechecks"]}
            keep(settings, db_url, result)
            if not any(p["kind"] == "grader-error" for p in result["problems"]):
                shutil.rmtree(job["workdir"], ignore_errors=True)
            if bar:
                bar.update(1)
                bar.set_postfix_str(f"{job['student']}/{job['assignment']}", refresh=False)
        if bar:
            bar.close()
    record_exchange_files(settings, db_url)
    summary = write_outputs(settings, db_url, orphan_problems)
    summary["graded_now"] = len(ready) + len(jobs)
    summary["seconds"] = round(time.time() - started, 1)
    summary["sandbox"] = "bubblewrap" if probe.bwrap else "none"
    (settings.out / "report.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    return summary


def keep(settings, db_url, result):
    """Record a result in the gradebook and the results cache as soon as it is known."""
    gradebook.record(db_url, result)
    path = settings.out / "results" / result["student"] / f"{result['assignment']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))


def record_exchange_files(settings, db_url):
    """For submissions that came through nbgrader's exchange: their submission time into the gradebook, and
    timestamp.txt and submission_secret.txt beside their feedback (`nbgrader release_feedback` reads both)."""
    for staged in sorted(settings.out.glob("staging/*/*/")):
        student, assignment = staged.parent.name, staged.name
        if (staged / "timestamp.txt").is_file():
            gradebook.record_timestamp(db_url, student, assignment, (staged / "timestamp.txt").read_text())
        feedback = settings.feedback_dir / student / assignment
        if feedback.is_dir():
            for name in collect.EXCHANGE_FILES:
                if (staged / name).is_file():
                    shutil.copyfile(staged / name, feedback / name)


def _duration(seconds):
    minutes, hours = round(seconds / 60), seconds / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{minutes} min" if minutes >= 1 else f"{round(seconds)} s"


def late_problem(db_url, student, assignment):
    """A `late` problem when the gradebook's submission time is after the assignment's due date, else None."""
    seconds, duedate = gradebook.lateness(db_url, student, assignment)
    if seconds <= 0:
        return None
    return {"student": student, "assignment": assignment, "notebook": "", "kind": "late",
            "detail": f"submitted {_duration(seconds)} ({seconds:.0f} s) after the due date {duedate} UTC"}


def write_outputs(settings, db_url, orphan_problems):
    """grades.csv from the gradebook, and the report of every cached result."""
    gradebook.export_csv(db_url, settings.out / "grades.csv")
    submissions, problems = [], list(orphan_problems)
    for path in sorted((settings.out / "results").glob("*/*.json")):
        result = json.loads(path.read_text())
        student, assignment = result["student"], result["assignment"]
        found = result.get("prechecks", []) + [{"student": student, "assignment": assignment, "notebook": "", **p}
                                               for p in result["problems"]]
        late = late_problem(db_url, student, assignment)
        found += [late] if late else []
        problems += found
        score, max_score = gradebook.submission_score(db_url, student, assignment) or (0.0, 0.0)
        submissions.append({"student": student, "assignment": assignment, "score": score, "max_score": max_score,
                            "problems": sorted({p["kind"] for p in found})})
    return {"submissions": submissions, "problems": problems}


def _progress(total, enabled):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc="grading", unit="submission")
