"""nbgrader's own Autograde (Formgrader's button, `nbgrader autograde`) graded by the judge, in the sandbox.

    c.Autograde.exporter_class = "autograder.pipeline.formgrade.GradeInSandbox"     # in nbgrader_config.py

nbgrader's Autograde converter exports each submitted notebook twice with an nbconvert exporter: a
sanitizing pass from submitted/ into autograded/ (ClearOutput, OverwriteCells, ...), then an
autograding pass over that copy (Execute, then SaveAutoGrades and AssignLatePenalties record the
scores). Plain nbgrader reads the student's notebook in the instructor's process and gives points
for what the student's own kernel printed. `GradeInSandbox` is the converter's exporter
(`BaseConverter.exporter_class`, a configurable trait) and changes exactly this:

- sanitizing: the submitted files are not parsed here. Their bytes go, as a `records.Job`, to a
  worker of this process's grading server (pipeline/workers.py, started once: "root" mode as root,
  "userns" otherwise), which grades them as `python -m autograder grade` does: intake and restore
  from the release, the student's cells in the sandboxed kernel, every test cell judged outside it
  (judge/execute.py). The worker sends back its Result, plain JSON, with the notebooks it graded;
  the exported notebook is that graded notebook, whose test cells' outputs were written from the
  judge's verdicts, and whose student content was made safe to show as on the course's feedback
  pages (judge/feedback.py: markdown as literal text, outputs allowlisted): Manual Grading renders
  it in the instructor's browser.
- autograding: nbgrader's preprocessors run on it as configured, except that any executing one
  (Execute) is replaced by `MatchVerdicts`, which runs nothing and checks that every graded cell
  gives exactly the score the worker recorded, before SaveAutoGrades writes it. So the course's
  gradebook holds the judge's verdicts, with nbgrader's late penalties, and Formgrader's Manual
  Grading shows the graded notebook.

The worker's problems (timeouts, a crashed kernel, restored test cells, suspected cheating) are
logged as nbgrader warnings. A notebook the worker could not grade (malformed, or a grader error)
is an nbgrader error for that submission. Without a complete sandbox the exporter refuses, naming
what to install, unless `GradeInSandbox.allow_unsandboxed = True`; it never runs Execute.
"""
import atexit
import base64
import hashlib
import json
import logging
import shutil
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path

from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import ExecutePreprocessor
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import determine_grade, is_grade
from traitlets import Bool, Integer, Unicode

from .. import course
from ..course import build
from ..intake import precheck
from ..judge import sandbox
from ..records import CourseFiles, Job, Problem
from . import executors, workers
from .grade import read_bytes

INSTALL = ("Install what is missing (autograder/README.md, \"What an instructor must install\"), or set "
           "c.GradeInSandbox.allow_unsandboxed = True in nbgrader_config.py to accept running student code "
           "without a sandbox (trusted notebooks only).")


# The template's generation speaks through its result (generate_from raises with nbgrader's log); its
# NbGraderAPI's complaint about a missing exchange, for one, is no concern of an autograde.
QUIET = logging.getLogger("rnncourse.formgrade.template")
QUIET.setLevel(logging.CRITICAL + 1)           # the exchange logs that complaint as fatal


class SandboxUnavailable(NbGraderException):
    """This machine cannot grade in the sandbox and the configuration does not accept that."""


class GradingFailed(RuntimeError):
    """A submission could not be graded by the judge; the message says why."""


class GradeInSandbox(NotebookExporter):
    """The exporter of nbgrader's Autograde: submissions graded by the judge in a sandboxed worker."""

    timeout = Integer(30, help="Seconds per cell: a student's cell, or the student's code a test cell calls.").tag(config=True)
    allow_unsandboxed = Bool(False, help="Grade even where the sandbox is incomplete (student code then runs with "
                                         "fewer protections, or none): for trusted notebooks only.").tag(config=True)
    worker_user = Unicode(workers.DEFAULT_WORKER_USER,
                          help="As root: the account grading workers run as (created if missing).").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._graded = None                     # (student, assignment, Result) of the submission being converted
        self._grader = None
        if self.autograding:                    # refuse before anything is converted
            self._grader = grader(self.worker_user, self.allow_unsandboxed, self.log)

    @property
    def autograding(self):
        """Is this the exporter of nbgrader's Autograde (any other converter gets a plain NotebookExporter)?"""
        return isinstance(self.parent, Autograde)

    def register_preprocessor(self, preprocessor, enabled=False):
        """nbgrader registers each pass's preprocessors here: an executing one becomes MatchVerdicts."""
        executes = (isinstance(preprocessor, ExecutePreprocessor)
                    or isinstance(preprocessor, type) and issubclass(preprocessor, ExecutePreprocessor))
        if executes and self.autograding:
            preprocessor = MatchVerdicts
        return super().register_preprocessor(preprocessor, enabled)

    def from_filename(self, filename, resources=None, **kw):
        """A submitted notebook: the notebook the judge graded (the file is only read as bytes, and sent to the
        worker). Any other file (the autograding pass reads autograded/): nbconvert's way."""
        info = (resources or {}).get("nbgrader")
        if not self.autograding or not info or not self._submitted(filename, info):
            return super().from_filename(filename, resources, **kw)
        result = self.result(info["student"], info["assignment"])
        notebook = info["notebook"]
        if notebook not in result.graded:
            found = [f"{p.kind}: {p.detail}" for p in result.problems if p.notebook in ("", notebook)]
            raise GradingFailed(f"{info['student']}/{info['assignment']}/{notebook}.ipynb could not be graded: "
                                + ("; ".join(found) or "the worker returned no graded notebook"))
        resources = dict(resources)
        resources["output_extension"] = self.file_extension
        return result.graded[notebook], resources

    def _submitted(self, filename, info):
        coursedir = self.parent.coursedir
        folder = coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"])
        return Path(filename).resolve().parent == Path(folder).resolve()

    def result(self, student, assignment):
        """The worker's Result for one submission (graded once, for all its notebooks)."""
        if self._graded is None or self._graded[:2] != (student, assignment):
            self._graded = None                                     # one submission's notebooks in memory at a time
            result = self._grader.grade(self.parent.coursedir, student, assignment, self.timeout)
            for problem in result.problems:
                self.log.warning("%s/%s: %s: %s", student, assignment, problem.kind, problem.detail)
            if result.grader_error:
                raise GradingFailed(f"{student}/{assignment} could not be graded: " + "; ".join(
                    p.detail for p in result.problems if p.kind == "grader-error"))
            self._graded = (student, assignment, result)
        return self._graded[2]

    def verdicts(self, info):
        """{grade_id: score} the judge gave the graded cells of one notebook of the submission being converted."""
        if self._graded is None or self._graded[:2] != (info["student"], info["assignment"]):
            raise GradingFailed(f"{info['student']}/{info['assignment']}/{info['notebook']}.ipynb was not graded in "
                                "the sandbox in this run: autograde it again")
        return {g.grade_id: g.score for g in self._graded[2].grades if g.notebook == info["notebook"]}


class MatchVerdicts(NbGraderPreprocessor):
    """In Execute's place: run nothing; check that each graded cell's outputs give the judge's score."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        expected = self.parent.verdicts(info)
        for cell in nb.cells:
            if not is_grade(cell):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            score, _ = determine_grade(cell, self.log)
            if score is not None and expected.get(grade_id) != float(score):
                raise GradingFailed(f"{info['student']}/{info['assignment']}: nbgrader would record {score} for "
                                    f"{grade_id}, the judge gave {expected.get(grade_id)}: a preprocessor of "
                                    "Autograde.autograde_preprocessors changed the graded notebook; remove it")
        return nb, resources


# --- this process's grading server ---------------------------------------------------------------------------
class Grader:
    """A grading server of this process (pipeline/workers.py) and the course files it has written, in a
    private scratch folder that goes when the process ends."""

    def __init__(self, probe, scratch, worker_user):
        self.probe, self.scratch = probe, scratch
        (scratch / "course").mkdir()
        self.server = executors.start_server(probe, scratch, [scratch / "course"], worker_user)
        self._courses = {}                      # digest of an assignment's notebooks -> its course files' folder
        self._lock = threading.Lock()

    def alive(self):
        return self.server.process.poll() is None

    def close(self):
        self.server.close()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def course_files(self, coursedir, assignment):
        """The folder of one assignment's course files: its source and released notebooks, and a template
        gradebook generated from the source (once per version of the notebooks)."""
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        release = Path(coursedir.format_path(coursedir.release_directory, ".", assignment))
        sources = {p.stem: p.read_text() for p in sorted(source.glob("*.ipynb"))}
        releases = {p.stem: p.read_text() for p in sorted(release.glob("*.ipynb"))}
        if not sources:
            raise GradingFailed(f"{source} holds no notebook of {assignment}: the judge needs the assignment's source")
        missing = sorted(set(sources) - set(releases))
        if missing:
            raise GradingFailed(f"{release} lacks the released notebook(s) {', '.join(missing)} of {assignment}: "
                                f"generate the assignment first (Formgrader's Generate, or nbgrader generate_assignment "
                                f"{assignment})")
        digest = hashlib.sha256(json.dumps([assignment, sources, releases]).encode()).hexdigest()
        with self._lock:
            if digest not in self._courses:
                with tempfile.TemporaryDirectory(dir=self.scratch) as scratch:
                    template = Path(scratch) / "template.db"
                    build.generate_from(source.parent, [assignment], Path(scratch) / "release", f"sqlite:///{template}",
                                        log=QUIET)
                    files = CourseFiles({assignment: sources}, {assignment: releases}, template.read_bytes())
                self._courses[digest] = (files.write(self.scratch / "course"), _code_cells(sources))
            return self._courses[digest]

    def grade(self, coursedir, student, assignment, timeout):
        """Grade submitted/<student>/<assignment>/ in a worker; returns its Result, with the graded notebooks."""
        course_dir, cells = self.course_files(coursedir, assignment)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        files, problems = {}, []
        for path in sorted(folder.glob("*.ipynb")):
            try:                                    # bytes only; the worker decodes them (at most the limit + 1)
                files[path.name] = base64.b64encode(read_bytes(path, precheck.MAX_NOTEBOOK_BYTES + 1)).decode()
            except (OSError, ValueError) as exc:
                problems.append(Problem("unsafe-file", f"{path.name}: {exc}"))
        try:
            timestamp = read_bytes(folder / "timestamp.txt", 200).decode("utf-8", "replace")
        except (OSError, ValueError):
            timestamp = ""
        key = hashlib.sha256(json.dumps([course_dir.name, timeout, files, timestamp]).encode()).hexdigest()
        job = Job(student, assignment, key, files, timeout, 120 + cells * (timeout + 5), asdict(sandbox.Limits()),
                  problems, hidden_paths(coursedir, self.scratch), timestamp, return_graded=True)
        return executors.run_job(self.server, job, course_dir, self.probe.kernel_settings())


def hidden_paths(coursedir, scratch):
    """Folders a kernel must not see should a folder it sees hold them: the course, the repository's solutions
    and history, the course files. (A folder that holds what the kernel sees, such as a course folder with the
    environment inside, is left alone: the sandbox shows nothing of it but that.)"""
    visible = [Path(p) for p in sandbox.visible_paths()]
    candidates = [Path(coursedir.root).resolve(), course.REPO / "solutions", course.REPO / ".git", scratch]
    return [str(p) for p in candidates if not any(v.is_relative_to(p) for v in visible)]


def _code_cells(sources):
    return sum(cell.get("cell_type") == "code" for text in sources.values() for cell in json.loads(text)["cells"])


_graders = {}                                   # worker user -> Grader of this process
_graders_lock = threading.Lock()


def grader(worker_user, allow_unsandboxed, log):
    """This process's Grader for `worker_user`, started on first use; SandboxUnavailable (logged as an nbgrader
    error) when the sandbox is incomplete and the configuration does not accept that."""
    with _graders_lock:
        current = _graders.get(worker_user)
        if current is not None and not (current.alive() and current.probe.complete):
            _graders.pop(worker_user).close()   # stopped, or made without the full sandbox: look again
            current = None
        if current is None:
            scratch = Path(tempfile.mkdtemp(prefix="rnncourse-formgrade-"))
            probe = sandbox.probe(scratch / "probe")
            shutil.rmtree(scratch / "probe", ignore_errors=True)
            if not probe.complete and not allow_unsandboxed:
                shutil.rmtree(scratch, ignore_errors=True)
                _refuse(log, "student code would run without these protections:\n" +
                        "\n".join(f"  - {m}" for m in probe.missing) + "\n" + INSTALL)
            try:
                current = _graders[worker_user] = Grader(probe, scratch, worker_user)
            except workers.WorkerUnavailable as exc:
                shutil.rmtree(scratch, ignore_errors=True)
                _refuse(log, f"{exc}\n{INSTALL}")
        if not current.probe.complete:
            log.warning("grading WITHOUT full isolation (GradeInSandbox.allow_unsandboxed). Missing:\n%s",
                        "\n".join(f"  - {m}" for m in current.probe.missing))
        return current


def _refuse(log, reason):
    message = f"REFUSING TO AUTOGRADE: {reason}"
    log.error(message)
    raise SandboxUnavailable(message)


@atexit.register
def _close_all():
    with _graders_lock:
        for item in _graders.values():
            item.close()
        _graders.clear()
