"""What a worker does with one job, in its job folder (see autograder/pipeline/workers.py for where it runs).

    grade    input.json = {"course_dir", "job": records.Job}  ->  result.json (records.Result)
    intake   input.json = {"source", "assignments", "assignment", "lms_regexp"}  ->  staging/, manifest.json
    probe    input.json = {"paths": [...]}  ->  probe.json: what this worker could write and import

Everything a worker reads of a submission is untrusted, and the worker is the only process that
decodes it: it parses the notebooks once (intake pass: parse, match, restore from the release,
scan), grades the restored notebooks with nbgrader's autograde and `JudgedExecute`, renders the
feedback (a job of nbgrader's own Autograde, `Job.return_graded`, gets the graded notebooks in its
Result instead), and writes its Result atomically. Any exception at all becomes a `grader-error` Result
naming it: one submission's input is that submission's problem.

What is graded is not the submitted file but the notebook `restore` builds from the release and
the student's own cells. Test cells are judged in this process by `JudgedExecute`; the kernel only
runs the student's code. Problems come from what the grader itself observed.
"""
import base64
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

import nbformat
from nbgrader.utils import is_grade, is_locked, is_solution

from .. import course
from ..intake import precheck, restore
from ..records import Grade, Job, Problem, Result, read_observations, write_atomic
from . import feedback, sandbox, verdict
from .execute import JudgedExecute


def main(kind, workdir, channel_fd=-1, kernel_ip=""):
    """Run one job of `kind` in `workdir`; returns the process's exit code (0: the output file is written)."""
    workdir = Path(workdir)
    data = json.loads((workdir / "input.json").read_text())
    if kind == "grade":
        job = Job.from_json(json.dumps(data["job"]))
        kernel = (channel_fd, kernel_ip) if kernel_ip else None
        try:
            result = grade_one(job, workdir, Path(data["course_dir"]), kernel)
        except BaseException as exc:                       # RecursionError and MemoryError included
            result = Result.failed(job, describe_failure(exc))
        write_atomic(workdir / "result.json", result.to_json())
        return 0
    if kind == "intake":
        from ..intake import collect
        found, problems = collect.collect(Path(data["source"]), workdir / "staging", set(data["assignments"]),
                                          data.get("assignment") or None, data["lms_regexp"])
        problems += [("unknown", "", Problem("unsafe-file", f"{collect.text(name)[:200]}: not a regular file or folder"))
                     for name in data.get("skipped", [])]
        write_atomic(workdir / "manifest.json", json.dumps(collect.manifest(found, problems, workdir / "staging")))
        return 0
    if kind == "probe":
        write_atomic(workdir / "probe.json", json.dumps(probe(data["paths"])))
        return 0
    raise ValueError(f"unknown job kind {kind!r}")


def probe(paths):
    """What this process can do: its uid, which of `paths` it can write, which sys.path folder it can write."""
    written = {}
    for path in paths:
        target = Path(path) / "probe-write.txt" if Path(path).is_dir() else Path(path)
        try:
            with open(target, "a") as f:
                f.write("x")
            written[path] = "written"
        except OSError as exc:
            written[path] = f"refused: {exc.strerror}"
    importable = [p for p in sys.path if os.path.isdir(p) and os.access(p, os.W_OK)]
    return {"uid": os.getuid(), "euid": os.geteuid(), "writes": written, "writable_sys_path": importable,
            "capabilities": Path("/proc/self/status").read_text().split("CapEff:")[1].split()[0]}


# --- grading one submission ---------------------------------------------------------------------------------
def intake_pass(job, course_dir):
    """Each submitted notebook parsed once, matched, restored from the release and scanned.

    Returns ({notebook id: the notebook to grade}, [Problem])."""
    sources = _notebooks(course_dir / "source" / job.assignment)
    releases = _notebooks(course_dir / "release" / job.assignment)
    if not sources:
        raise RuntimeError(f"the course files in {course_dir} have no notebook of {job.assignment}")
    parsed = {name: precheck.parse_notebook(base64.b64decode(data)) for name, data in sorted(job.files.items())}
    notebooks, problems = precheck.match_notebooks(job.assignment, sources, parsed)
    graded = {}
    for nb_id, nb in notebooks.items():
        if nb_id not in releases:
            raise RuntimeError(f"{nb_id}: the released notebook is missing from the course files")
        graded[nb_id], changes = restore.restore(nb, releases[nb_id], nb_id)
        problems += changes + precheck.scan_student_code(nb, nb_id, releases[nb_id])
    return graded, problems


def _notebooks(folder):
    return {p.stem: nbformat.read(str(p), as_version=4) for p in sorted(Path(folder).glob("*.ipynb"))}


def test_plan(source_dir):
    """({notebook: {grade_id: source}}, {notebook: [prelude source]}) from an assignment's source notebooks."""
    tests, preludes = {}, {}
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        tests[path.stem] = {restore.grade_id(c): c.source for c in code if is_grade(c) and not is_solution(c)}
        setup = [c.source for c in code if restore.grade_id(c) == restore.SETUP]
        given = [c.source for c in code if is_locked(c) and not is_grade(c) and restore.grade_id(c) != restore.SETUP]
        preludes[path.stem] = verdict.prelude(setup[0] if setup else "", given, list(tests[path.stem].values()))
    return tests, preludes


def configure(job, workdir, course_dir, kernel, observations):
    """nbgrader configuration for this job: JudgedExecute, feedback that is safe to open, the sandboxed kernel."""
    root = workdir / "course"
    # Here Autograde is the judge itself (JudgedExecute, below), not the hook that sends a submission to a worker.
    config = course.nbgrader_config(root, f"sqlite:///{root / 'gradebook.db'}", timeout=job.timeout,
                                    source_directory=course_dir / "source", release_directory=course_dir / "release",
                                    grade_in_sandbox=False)
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute
    config.Autograde.autograde_preprocessors = [JudgedExecute if p is Execute else p
                                                for p in Autograde.class_traits()["autograde_preprocessors"].default()]
    config.JudgedExecute.tests, config.JudgedExecute.preludes = test_plan(course_dir / "source" / job.assignment)
    config.JudgedExecute.observations_path = str(observations)
    if kernel is not None:
        channel_fd, ip = kernel
        config.merge(sandbox.kernel_config(workdir / "kernels", ip, {"channel_fd": channel_fd}, workdir))
        config.JudgedExecute.kernel_dirs = [str(workdir / "kernels")]
    return config


def grade_one(job, workdir, course_dir, kernel):
    """Intake, autograde and feedback of one submission; returns its Result.

    kernel: (channel to the job's supervisor, ipc address) of the sandboxed kernel, or None for an
    unconfined kernel (--allow-unsandboxed)."""
    root = workdir / "course"
    student, assignment = job.student, job.assignment
    notebooks, problems = intake_pass(job, course_dir)
    submitted, late_problem = precheck.parse_timestamp(job.timestamp)
    result = Result(student, assignment, job.key, problems=[*job.problems, *problems, *late_problem], submitted=submitted)
    if not notebooks:
        return result.capped()
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(course_dir / "gradebook.db", root / "gradebook.db")
    for nb_id, nb in notebooks.items():
        nbformat.write(nb, str(folder / f"{nb_id}.ipynb"))
    observations = workdir / "observations.jsonl"
    api = course.api(configure(job, workdir, course_dir, kernel, observations))
    run = api.autograde(assignment, student, force=True, create=True)
    if not run["success"]:                                # nbgrader's log holds the cause, its error only a summary
        result.problems.append(Problem("grader-error", _tail(run["log"]) + _tail(run["error"], 300)))
        return result.capped()
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    autograded = sorted((root / "autograded" / student / assignment).glob("*.ipynb"))
    timing = {}
    graded = {p.stem: nbformat.read(str(p), as_version=4) for p in autograded}
    if job.return_graded:              # nbgrader's Autograde records them; Formgrader and generate_feedback show them
        result.graded = {nb_id: nbformat.writes(feedback.made_safe(nb)) for nb_id, nb in graded.items()}
    else:
        started = time.perf_counter()
        result.feedback = feedback.render(graded, db_url, assignment, student)
        timing["feedback_seconds"] = round(time.perf_counter() - started, 3)
    result.grades = read_grades(db_url, assignment, student)
    observed = read_observations(observations)
    result.problems += [o.problem() for o in observed if o.kind != "verdict"]
    result.failures = {o.cell: o.verdict["message"][:300] for o in observed if o.kind == "verdict" and not o.verdict["passed"]}
    result.timing = {**test_timing(observed), **timing}
    return result.capped()


def read_grades(db_url, assignment, student):
    """[Grade] for every graded cell of the submission."""
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment, student)
        return [Grade(nb.name, g.name, float(g.score), float(g.max_score)) for nb in submission.notebooks for g in nb.grades]


def test_timing(observed):
    """{"tests_seconds", "remote_requests"}: the time the test cells took and the remote calls they made."""
    verdicts = [o for o in observed if o.kind == "verdict"]
    requests = {}                                        # a notebook's kernel counts its requests from the start
    for o in verdicts:
        requests[o.notebook] = max(requests.get(o.notebook, 0), o.verdict["requests"])
    return {"tests_seconds": round(sum(o.verdict["seconds"] for o in verdicts), 3),
            "remote_requests": sum(requests.values())}


def describe_failure(exc):
    """A grader-error's detail: the exception, where it happened, then the end of the traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (in {Path(frames[-1].filename).name}:{frames[-1].lineno}, {frames[-1].name})" if frames else ""
    text = "".join(traceback.format_exception(exc))
    return f"grading failed: {type(exc).__name__}: {str(exc)[:300]}{where}. {_tail(text, 1200)}"


def _tail(text, n=2000):
    return (text or "")[-n:]
