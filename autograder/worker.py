"""Grade one submission (one student, one assignment) in a course directory of its own.

`run_job(workdir, course_dir, sandbox_json)` is the entry point of the child process that grades one
`records.Job` (see executors.run_in_child): it reads workdir/job.json and writes workdir/result.json
(a `records.Result`). `python -m autograder.worker WORKDIR COURSE_DIR SANDBOX_JSON` does the same by
hand. The course files (source and released notebooks, the template gradebook) come from
`course_dir`, written there by `course.CourseFiles.write`, so the worker needs nothing else of the
course: it may run on another machine. Each job gets a fresh copy of the template gradebook, so
workers never share a database; the grading process records the results one at a time.

What is graded is not the submitted file but the notebook `restore` builds from the release and
the student's own cells. Test cells are judged in this (trusted) process by `JudgedExecute`; the
kernel only runs the student's code. Problems come from what the grader itself observed.
"""
import ctypes
import ctypes.util
import json
import os
import resource
import signal
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_locked, is_solution

from . import course, judge, restore, sandbox
from .execute import JudgedExecute
from .precheck import parse_notebook, read_notebook
from .records import Grade, Job, Problem, Result

PR_SET_PDEATHSIG = 1                   # linux/prctl.h
WORKER_MEMORY_MB = 4096                # address space of a worker (the grader's own process, not the kernel)


def kernels_dir(workdir):
    """Where the sandbox's kernelspec of a job is written (JUPYTER_PATH/kernels)."""
    return Path(workdir) / "jupyter" / "kernels"


def test_plan(source_dir):
    """({notebook: {grade_id: source}}, {notebook: [prelude source]}) from an assignment's source notebooks."""
    tests, preludes = {}, {}
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        tests[path.stem] = {restore.grade_id(c): c.source for c in code if is_grade(c) and not is_solution(c)}
        setup = [c.source for c in code if restore.grade_id(c) == restore.SETUP]
        given = [c.source for c in code if is_locked(c) and not is_grade(c) and restore.grade_id(c) != restore.SETUP]
        preludes[path.stem] = judge.prelude(setup[0] if setup else "", given, list(tests[path.stem].values()))
    return tests, preludes


def configure(job, workdir, course_dir, kernel_cwd, sandbox_info, cgroup, run_dir, observations):
    """nbgrader configuration for this job: JudgedExecute, feedback that is safe to open, the sandboxed kernel."""
    root = workdir / "course"
    config = course.nbgrader_config(root, f"sqlite:///{root / 'gradebook.db'}", timeout=job.timeout,
                                    source_directory=course_dir / "source", release_directory=course_dir / "release")
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    config.Autograde.autograde_preprocessors = [JudgedExecute if p is Execute else p
                                                for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    config.JudgedExecute.tests, config.JudgedExecute.preludes = test_plan(course_dir / "source" / job.assignment)
    config.JudgedExecute.observations_path = str(observations)
    if sandbox_info["enabled"]:
        config.merge(sandbox.kernel_config(kernels_dir(workdir), kernel_cwd, [*job.hide, str(course_dir)],
                                           sandbox.Limits(**job.limits), sandbox_info["cgroup_root"], cgroup, run_dir))
    return config


def restore_submission(job, release_dir, submitted):
    """Write the notebooks to grade (restored from the release) into submitted/ (the plan reported what changed)."""
    for nb_id, text in job.notebooks.items():
        nb, reason = parse_notebook(text)
        release, _ = read_notebook(release_dir / f"{nb_id}.ipynb")
        if nb is None or release is None:
            raise RuntimeError(f"{nb_id}: {reason or 'the released notebook is missing'}")
        graded, _ = restore.restore(nb, release, nb_id)
        nbformat.write(graded, str(submitted / f"{nb_id}.ipynb"))


def grade_one(job, workdir, course_dir, sandbox_info):
    """Autograde one submission and generate its feedback; return its Result."""
    root = workdir / "course"
    student, assignment = job.student, job.assignment
    result = Result(student, assignment, job.key, problems=list(job.prechecks))
    submitted = root / "submitted" / student / assignment
    submitted.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(course_dir / "gradebook.db", root / "gradebook.db")
    restore_submission(job, course_dir / "release" / assignment, submitted)
    observations = workdir / "observations.jsonl"
    cgroup = f"autograder-{os.getpid()}"
    run_dir = tempfile.mkdtemp(prefix="rnncourse-")      # kernel sockets: a short path (they allow ~100 characters)
    kernel_cwd = root / "autograded" / student / assignment
    api = course.api(configure(job, workdir, course_dir, kernel_cwd, sandbox_info, cgroup, run_dir, observations))
    try:
        run = api.autograde(assignment, student, force=True, create=True)
    finally:
        sandbox.remove_cgroup(sandbox_info["cgroup_root"], cgroup)
        shutil.rmtree(run_dir, ignore_errors=True)
    if not run["success"]:                                # nbgrader's log holds the cause, its error only a summary
        result.problems.append(Problem("grader-error", _tail(run["log"]) + _tail(run["error"], 300)))
        return result
    feedback = api.generate_feedback(assignment, student, force=True)
    if feedback["success"]:
        result.feedback = {html.stem: html.read_text() for html in (root / "feedback" / student / assignment).glob("*.html")}
    else:
        result.problems.append(Problem("feedback-error", _tail(feedback["error"] or feedback["log"])))
    result.grades = read_grades(f"sqlite:///{root / 'gradebook.db'}", assignment, student)
    result.problems += observed_problems(observations)
    result.timing = test_timing(observations)
    return result


def read_grades(db_url, assignment, student):
    """[Grade] for every graded cell of the submission."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment, student)
        return [Grade(nb.name, g.name, float(g.score), float(g.max_score)) for nb in submission.notebooks for g in nb.grades]


def observed_problems(observations):
    """Problems from what JudgedExecute observed (never from anything the kernel printed)."""
    if not Path(observations).exists():
        return []
    found = {}
    for line in Path(observations).read_text().splitlines():
        item = json.loads(line)
        if item["kind"] != "verdict":
            problem = Problem(item["kind"], item["detail"], item["notebook"])
            found.setdefault((problem.kind, problem.detail, problem.notebook), problem)
    return list(found.values())


def test_timing(observations):
    """{"tests_seconds", "remote_requests"}: the time the test cells took and the remote calls they made."""
    lines = Path(observations).read_text().splitlines() if Path(observations).exists() else []
    verdicts = [(item["notebook"], json.loads(item["detail"])) for item in map(json.loads, lines) if item["kind"] == "verdict"]
    requests = {}                                        # a notebook's kernel counts its requests from the start
    for notebook, verdict in verdicts:
        requests[notebook] = max(requests.get(notebook, 0), verdict["requests"])
    return {"tests_seconds": round(sum(v["seconds"] for _, v in verdicts), 3), "remote_requests": sum(requests.values())}


def _tail(text, n=2000):
    return (text or "")[-n:]


def _die_with_parent():
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG); elsewhere nothing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def run_job(workdir, course_dir, sandbox_json):
    """Grade workdir/job.json into workdir/result.json, with all output going to workdir/worker.log.

    Runs in a child process of its own (forked from a server that has nbgrader imported already):
    it leads its own process group, so the parent can stop it and everything it started at once;
    it dies with the server that forked it (which ends with the process that started the server, a
    Dask worker that was killed, say); and its memory is limited, so a submission cannot exhaust the
    grader through it.
    """
    os.setpgrp()
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_MB * 2 ** 20,) * 2)
    workdir, course_dir = Path(workdir), Path(course_dir)
    log = os.open(workdir / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", MPLBACKEND="agg")
    os.environ["JUPYTER_PATH"] = str(kernels_dir(workdir).parent)   # where jupyter_client finds the sandbox's kernelspec
    job = Job.from_json((workdir / "job.json").read_text())
    try:
        result = grade_one(job, workdir, course_dir, json.loads(sandbox_json))
    except Exception:
        result = Result.failed(job, _tail(traceback.format_exc()))
    (workdir / "result.json").write_text(result.to_json())


if __name__ == "__main__":                               # python -m autograder.worker WORKDIR COURSE_DIR SANDBOX_JSON
    course.use_venv_tools()
    run_job(*sys.argv[1:4])
