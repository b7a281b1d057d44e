"""Grade one submission (one student, one assignment) in a course directory of its own.

The grading process runs `run_job` in a fresh child per submission (see grade.run_worker);
`python -m autograder.worker JOB.json LOG` does the same by hand. It writes the result JSON
named in the job. Each job gets a fresh copy of the template gradebook, so workers never share a
database; the parent process merges the results into the course gradebook one at a time.

What is graded is not the submitted file but the notebook `restore` builds from the release and
the student's own cells. Test cells are judged in this (trusted) process by `JudgedExecute`; the
kernel only runs the student's code. Problems come from what the grader itself observed.

Job fields: student, assignment, notebooks {notebook_id: path}, workdir, template_db,
timeout, limits, sandbox {enabled, cgroup_root}, hide [paths], feedback_dir, result.
"""
import json
import os
import resource
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import nbformat

from . import course, judge, restore, sandbox
from .execute import JudgedExecute
from .precheck import read_notebook
from .records import Problem

WORKER_MEMORY_MB = 4096                # address space of a worker (the grader's own process, not the kernel)


def test_plan(assignment):
    """({notebook: {grade_id: source}}, {notebook: [prelude source]}) from the source notebooks."""
    from nbgrader.utils import is_grade, is_locked, is_solution
    tests, preludes = {}, {}
    for nb_id, path in course.source_notebooks(assignment).items():
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        tests[nb_id] = {restore.grade_id(c): c.source for c in code if is_grade(c) and not is_solution(c)}
        setup = [c.source for c in code if restore.grade_id(c) == restore.SETUP]
        given = [c.source for c in code if is_locked(c) and not is_grade(c) and restore.grade_id(c) != restore.SETUP]
        preludes[nb_id] = judge.prelude(setup[0] if setup else "", given, list(tests[nb_id].values()))
    return tests, preludes


def configure(job, root, db_url, kernel_cwd, cgroup, run_dir, observations):
    """nbgrader configuration for this job: JudgedExecute, feedback that is safe to open, the sandboxed kernel."""
    config = course.nbgrader_config(root, db_url, timeout=job["timeout"])
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    config.Autograde.autograde_preprocessors = [JudgedExecute if p is Execute else p
                                                for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    config.JudgedExecute.tests, config.JudgedExecute.preludes = test_plan(job["assignment"])
    config.JudgedExecute.observations_path = str(observations)
    if job["sandbox"]["enabled"]:
        config.merge(sandbox.kernel_config(job["workdir"], kernel_cwd, job["hide"], sandbox.Limits(**job["limits"]),
                                           job["sandbox"]["cgroup_root"], cgroup, run_dir))
    return config


def restore_submission(job, submitted):
    """Write the notebooks to grade (restored from the release) into submitted/ (the plan reported what changed)."""
    for nb_id, path in job["notebooks"].items():
        nb, reason = read_notebook(path)
        release, _ = read_notebook(course.ASSIGNMENTS / job["assignment"] / f"{nb_id}.ipynb")
        if nb is None or release is None:
            raise RuntimeError(f"{nb_id}: {reason or 'the released notebook is missing'}")
        graded, _ = restore.restore(nb, release, nb_id)
        nbformat.write(graded, str(submitted / f"{nb_id}.ipynb"))


def grade_submission(job):
    """Autograde and generate feedback for one submission; return the result dict."""
    root = Path(job["workdir"]) / "course"
    student, assignment = job["student"], job["assignment"]
    db = root / "gradebook.db"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(job["template_db"], db)
    submitted = root / "submitted" / student / assignment
    submitted.mkdir(parents=True, exist_ok=True)
    result = {"student": student, "assignment": assignment, "key": job["key"], "problems": [], "grades": []}
    restore_submission(job, submitted)
    autograded = root / "autograded" / student / assignment
    observations = Path(job["workdir"]) / "observations.jsonl"
    cgroup = f"autograder-{os.getpid()}"
    run_dir = tempfile.mkdtemp(prefix="rnncourse-")      # kernel sockets: a short path (they allow ~100 characters)
    api = course.api(configure(job, root, f"sqlite:///{db}", autograded, cgroup, run_dir, observations))
    try:
        run = api.autograde(assignment, student, force=True, create=True)
    finally:
        sandbox.remove_cgroup(job["sandbox"]["cgroup_root"], cgroup)
        shutil.rmtree(run_dir, ignore_errors=True)
    if not run["success"]:                                # nbgrader's log holds the cause, its error only a summary
        result["problems"].append({"kind": "grader-error", "detail": _tail(run["log"]) + _tail(run["error"], 300)})
        return result
    feedback = api.generate_feedback(assignment, student, force=True)
    if feedback["success"]:
        target = Path(job["feedback_dir"])
        target.mkdir(parents=True, exist_ok=True)
        for html in (root / "feedback" / student / assignment).glob("*.html"):
            shutil.copyfile(html, target / html.name)
    else:
        result["problems"].append({"kind": "feedback-error", "detail": _tail(feedback["error"] or feedback["log"])})
    result["grades"] = read_grades(f"sqlite:///{db}", assignment, student)
    result["problems"] += observed_problems(observations)
    result["timing"] = test_timing(observations)
    return result


def read_grades(db_url, assignment, student):
    """[{notebook, grade_id, score, max_score}] for every graded cell of the submission."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment, student)
        return [{"notebook": nb.name, "grade_id": g.name, "score": float(g.score), "max_score": float(g.max_score)}
                for nb in submission.notebooks for g in nb.grades]


def observed_problems(observations):
    """Problems from what JudgedExecute observed (never from anything the kernel printed)."""
    if not Path(observations).exists():
        return []
    found = []
    for line in Path(observations).read_text().splitlines():
        item = json.loads(line)
        if item["kind"] != "verdict":
            problem = Problem(item["kind"], item["detail"], item["notebook"])
            found.append({"kind": problem.kind, "detail": problem.detail, "notebook": problem.notebook})
    return list({json.dumps(p, sort_keys=True): p for p in found}.values())


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


def run_job(job_file, log_file):
    """Grade the job described in job_file, with all output going to log_file; write its result file.

    Runs in a child process of its own (forked from a server that has nbgrader imported already):
    it leads its own process group, so the parent can stop it and everything it started at once,
    and its memory is limited, so a submission cannot exhaust the grader through it.
    """
    os.setpgrp()
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_MB * 2 ** 20,) * 2)
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", MPLBACKEND="agg")
    job = json.loads(Path(job_file).read_text())
    course.use_venv_tools()
    try:
        result = grade_submission(job)
    except Exception:
        result = {"student": job["student"], "assignment": job["assignment"], "key": job["key"], "grades": [],
                  "problems": [{"kind": "grader-error", "detail": _tail(traceback.format_exc())}]}
    Path(job["result"]).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":                               # python -m autograder.worker JOB.json LOG
    run_job(sys.argv[1], sys.argv[2])
