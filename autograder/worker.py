"""Grade one submission (one student, one assignment) in a course directory of its own.

The grading process runs `run_job` in a fresh child per submission (see grade.run_worker);
`python -m autograder.worker JOB.json LOG` does the same by hand. It writes the result JSON
named in the job.
Each job gets a fresh copy of the template gradebook, so workers never share a database;
the parent process merges the results into the course gradebook one at a time.

Job fields: student, assignment, notebooks {notebook_id: path}, workdir, template_db,
timeout, limits, sandbox {enabled, cgroup_root}, hide [paths], feedback_dir, result.
"""
import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from . import course, sandbox
from .execute import KERNEL_DIED, NOT_RUN, TIMEOUT, SafeExecute
from .testing import MARK


def configure(job, root, db_url, kernel_cwd, cgroup, run_dir):
    """nbgrader configuration for this job: SafeExecute, and the sandboxed kernel when enabled."""
    config = course.nbgrader_config(root, db_url, timeout=job["timeout"])
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    config.Autograde.autograde_preprocessors = [SafeExecute if p is Execute else p
                                                for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    if job["sandbox"]["enabled"]:
        config.merge(sandbox.kernel_config(job["workdir"], kernel_cwd, job["hide"], sandbox.Limits(**job["limits"]),
                                           job["sandbox"]["cgroup_root"], cgroup, run_dir))
    return config


def grade(job):
    """Autograde and generate feedback for one submission; return the result dict."""
    root = Path(job["workdir"]) / "course"
    student, assignment = job["student"], job["assignment"]
    db = root / "gradebook.db"
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(job["template_db"], db)
    submitted = root / "submitted" / student / assignment
    submitted.mkdir(parents=True, exist_ok=True)
    for nb_id, path in job["notebooks"].items():
        shutil.copyfile(path, submitted / f"{nb_id}.ipynb")
    autograded = root / "autograded" / student / assignment
    cgroup = f"autograder-{os.getpid()}"
    run_dir = tempfile.mkdtemp(prefix="rnncourse-")      # kernel sockets: a short path (they allow ~100 characters)
    api = course.api(configure(job, root, f"sqlite:///{db}", autograded, cgroup, run_dir))
    try:
        run = api.autograde(assignment, student, force=True, create=True)
    finally:
        sandbox.remove_cgroup(job["sandbox"]["cgroup_root"], cgroup)
        shutil.rmtree(run_dir, ignore_errors=True)
    result = {"student": student, "assignment": assignment, "key": job["key"], "problems": [], "grades": []}
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
    result["problems"] += execution_problems(autograded)
    return result


def read_grades(db_url, assignment, student):
    """[{notebook, grade_id, score, max_score}] for every graded cell of the submission."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment, student)
        return [{"notebook": nb.name, "grade_id": g.name, "score": float(g.score), "max_score": float(g.max_score)}
                for nb in submission.notebooks for g in nb.grades]


def execution_problems(autograded):
    """Timeouts, dead kernels, cells not run and [grader] marks found in the executed notebooks."""
    import nbformat
    found = []
    for path in sorted(Path(autograded).glob("*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            where = cell.metadata.get("nbgrader", {}).get("grade_id", "a cell")
            outputs = cell.get("outputs", [])
            not_run = [o for o in outputs if o.output_type == "error" and o.ename == NOT_RUN]
            if not_run:                                        # so were all the cells after it
                found.append(("not-run", f"{where} and the cells after it were not run: {not_run[0].evalue}"))
                break
            for out in outputs:
                if out.output_type == "error" and out.ename == TIMEOUT:
                    found.append(("timeout", f"{where} ran past the time limit and was interrupted"))
                elif out.output_type == "error" and out.ename == KERNEL_DIED:
                    found.append(("kernel-died", f"the kernel died in {where}"))
                elif out.output_type == "stream":
                    for line in out.text.splitlines():
                        if line.startswith(MARK):              # written by autograder.testing or SafeExecute
                            kind, _, detail = line[len(MARK):].strip().partition(":")
                            found.append((kind.strip().replace(" ", "-"), f"{where}: {detail.strip()}"))
    return [{"kind": kind, "detail": detail} for kind, detail in dict.fromkeys(found)]


def _tail(text, n=2000):
    return (text or "")[-n:]


def run_job(job_file, log_file):
    """Grade the job described in job_file, with all output going to log_file; write its result file.

    Runs in a child process of its own (forked from a server that has nbgrader imported already):
    it leads its own process group, so the parent can stop it and everything it started at once.
    """
    os.setpgrp()
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")   # for unsandboxed kernels
    job = json.loads(Path(job_file).read_text())
    course.use_venv_tools()
    try:
        result = grade(job)
    except Exception:
        result = {"student": job["student"], "assignment": job["assignment"], "key": job["key"], "grades": [],
                  "problems": [{"kind": "grader-error", "detail": _tail(traceback.format_exc())}]}
    Path(job["result"]).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":                               # python -m autograder.worker JOB.json LOG
    run_job(sys.argv[1], sys.argv[2])
