"""Where the course lives and how nbgrader is configured for it.

The repository keeps nbgrader's per-assignment layout at the top level:

    solutions/<assignment>/<assignment>.ipynb     nbgrader source (solutions, hidden tests)
    assignments/<assignment>/<assignment>.ipynb   student version generated from it

Every grading run works in its own course directory; `nbgrader_config` builds the traitlets
configuration for one, so no nbgrader_config.py file is needed anywhere.
"""
import os
import sys
from pathlib import Path

from traitlets.config import Config

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
ASSIGNMENTS = REPO / "assignments"
SAMPLES = Path(__file__).resolve().parent / "samples"

COURSE_ID = "rnn"                         # the gradebook's course id (also the exchange's, see docs/instructor-guide.md)

# stderr lines that are warnings, not failures: nbgrader would fail a test cell for them.
WARNING_PATTERN = r"\w*Warning:"


def assignment_ids():
    """The assignments of the course: every folder of solutions/ that holds a notebook."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def source_notebooks(assignment):
    """The source notebooks of one assignment, by notebook id (file name without .ipynb)."""
    return {p.stem: p for p in sorted((SOLUTIONS / assignment).glob("*.ipynb"))}


def use_venv_tools():
    """Put this interpreter's bin/ first on PATH: nbgrader runs `alembic` in a subprocess.

    Called once by each entry point (python -m autograder, a grading worker started by hand)."""
    bin_dir = os.path.dirname(sys.executable)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def nbgrader_config(root, db_url, release_directory=None, timeout=30, kernel_name=None, source_directory=None,
                    course_id=COURSE_ID):
    """traitlets Config for a course directory at `root` whose source is the repository's solutions/.

    timeout: per-cell execution limit in seconds. kernel_name: a kernelspec to run submissions
    with (the sandboxed one); None keeps the notebook's own. source_directory, release_directory:
    where the source and the released notebooks are (default: solutions/ and assignments/).
    course_id: the gradebook's course (PostgreSQL enforces that the course row exists: nbgrader
    creates it for a non-empty id).
    """
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.source_directory = str(source_directory or SOLUTIONS)
    c.CourseDirectory.release_directory = str(release_directory or ASSIGNMENTS)
    c.CourseDirectory.db_url = db_url
    c.Execute.timeout = timeout
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = WARNING_PATTERN
    c.OverwriteCells.add_missing_cells = True                 # a deleted test cell comes back
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades
    from .feedback import SafeFeedback
    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, SafeFeedback,   # without the hidden tests,
                                        CSSHTMLHeaderPreprocessor]                  # safe to open
    if kernel_name:
        c.Execute.kernel_name = kernel_name
    return c


def api(config):
    """An NbGraderAPI for a configuration (imported late: nbgrader is slow to import)."""
    from nbgrader.apps import NbGraderAPI
    return NbGraderAPI(config=config)


def course_files(template_db):
    """The CourseFiles of this repository: its source and released notebooks, and a template gradebook file."""
    from .records import CourseFiles
    sources = {a: {nb: p.read_text() for nb, p in source_notebooks(a).items()} for a in assignment_ids()}
    releases = {a: {p.stem: p.read_text() for p in sorted((ASSIGNMENTS / a).glob("*.ipynb"))} for a in assignment_ids()}
    template = Path(template_db).read_bytes()
    return CourseFiles(sources, releases, template)
