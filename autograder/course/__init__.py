"""The course: where its notebooks live, and how nbgrader is configured for it.

A course folder keeps nbgrader's per-assignment layout at the top level:

    solutions/<assignment>/<assignment>.ipynb     nbgrader source (solutions, hidden tests)
    assignments/<assignment>/<assignment>.ipynb   student version generated from it

`Course(root)` is that folder, made once by the command line (`Course.here()`: the repository this
package belongs to) and passed down; nothing reads a course from a global. Every grading run works
in a course directory of its own; `nbgrader_config` builds the traitlets configuration for one, so
no nbgrader_config.py file is needed anywhere, and `api` is the one place nbgrader is started from
(it puts this environment's tools on PATH: nbgrader runs `alembic` in a subprocess).

    build     assignments/ from solutions/ (nbgrader generate_assignment)
    release   the student edition (its files are in edition/)
    samples   the sample submissions and what each must score
    demo      what `make demo` runs
"""
import functools
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config

REPO = Path(__file__).resolve().parent.parent.parent     # the repository this package was installed from
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
COURSE_ID = "rnn"                         # the gradebook's course id (also the exchange's, see docs/instructor-guide.md)

# stderr lines that are warnings, not failures: nbgrader would fail a test cell for them.
WARNING_PATTERN = r"\w*Warning:"


@dataclass(frozen=True)
class Course:
    """A course folder: solutions/ (nbgrader's source) and assignments/ (the released notebooks)."""
    root: Path

    @classmethod
    def here(cls):
        """The course of the repository this package belongs to."""
        return cls(REPO)

    @property
    def solutions(self):
        return Path(self.root) / "solutions"

    @property
    def assignments(self):
        return Path(self.root) / "assignments"

    @functools.cached_property
    def assignment_ids(self):
        """The assignments of the course: every folder of solutions/ that holds a notebook (sorted)."""
        return sorted(p.name for p in self.solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def source_notebooks(self, assignment):
        """The source notebooks of one assignment, by notebook id (file name without .ipynb)."""
        return {p.stem: p for p in sorted((self.solutions / assignment).glob("*.ipynb"))}

    def release_notebooks(self, assignment):
        """The released (student) notebooks of one assignment, by notebook id."""
        return {p.stem: p for p in sorted((self.assignments / assignment).glob("*.ipynb"))}

    @functools.cached_property
    def digest(self):
        """A digest of every source notebook: what decides a grade besides the submission (computed once)."""
        digest = hashlib.sha256()
        for assignment in self.assignment_ids:
            for path in self.source_notebooks(assignment).values():
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()

    def files(self, template_db):
        """The CourseFiles every job of a run shares: source and released notebooks, and a template gradebook."""
        from ..records import CourseFiles
        sources = {a: {nb: p.read_text() for nb, p in self.source_notebooks(a).items()} for a in self.assignment_ids}
        releases = {a: {nb: p.read_text() for nb, p in self.release_notebooks(a).items()} for a in self.assignment_ids}
        return CourseFiles(sources, releases, Path(template_db).read_bytes())


def nbgrader_config(root, db_url, source_directory, release_directory, timeout=30, course_id=COURSE_ID,
                    grade_in_sandbox=True):
    """traitlets Config for a course directory at `root`.

    source_directory, release_directory: where the source and the released notebooks are. timeout:
    per-cell execution limit in seconds. course_id: the gradebook's course (PostgreSQL enforces that
    the course row exists: nbgrader creates it for a non-empty id). grade_in_sandbox: nbgrader's
    Autograde grades each submission in a sandboxed worker, through the judge
    (autograder/pipeline/formgrade.py); only the worker itself, whose Autograde is the judge, says False.
    """
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    from ..judge.feedback import SafeFeedback
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.source_directory = str(source_directory)
    c.CourseDirectory.release_directory = str(release_directory)
    c.CourseDirectory.db_url = db_url
    c.Execute.timeout = timeout
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = WARNING_PATTERN
    c.OverwriteCells.add_missing_cells = True                 # a deleted test cell comes back
    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, SafeFeedback,   # without the hidden tests,
                                        CSSHTMLHeaderPreprocessor]                  # safe to open
    if grade_in_sandbox:
        from ..pipeline.formgrade import GradeInSandbox
        c.Autograde.exporter_class = GradeInSandbox
        c.GradeInSandbox.timeout = timeout
    return c


def api(config, log=None):
    """An NbGraderAPI for a configuration: the one place nbgrader is started from.

    nbgrader runs `alembic` from PATH when it creates or upgrades a gradebook, so this interpreter's
    bin/ goes first on PATH here, whatever started the process. log: the logger of nbgrader's
    messages (default: the running application's, if any)."""
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    from nbgrader.apps import NbGraderAPI
    return NbGraderAPI(config=config, **({"log": log} if log is not None else {}))
