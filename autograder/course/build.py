"""Generate the student versions in assignments/ from the sources in solutions/.

`build(course)` regenerates every assignment with `nbgrader generate_assignment` into a scratch
folder, then copies the notebooks that changed into assignments/. `build(course, check=True)` only
compares and returns the notebooks that are out of date (missing, different or orphaned).
"""
import filecmp
import shutil
import tempfile
from pathlib import Path

from . import COURSE_ID, api, nbgrader_config


def generate(course, release_dir, gradebook_url, assignments=None, course_id=COURSE_ID):
    """Run nbgrader generate_assignment for each assignment of `course`, writing to release_dir/<assignment>/."""
    generate_from(course.solutions, assignments or course.assignment_ids, release_dir, gradebook_url, course_id)


def generate_from(source_dir, assignments, release_dir, gradebook_url, course_id=COURSE_ID, log=None):
    """nbgrader generate_assignment of each of `assignments` from source_dir/<assignment>/ (nbgrader's source
    layout) to release_dir/<assignment>/, recording them in the gradebook at `gradebook_url`."""
    config = nbgrader_config(Path(release_dir).parent, gradebook_url, source_dir, release_dir, course_id=course_id)
    nbgrader = api(config, log)
    for assignment in assignments:
        result = nbgrader.generate_assignment(assignment, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {assignment}:\n{result.get('error')}\n{result.get('log', '')}")


def _notebooks(folder):
    return {p.relative_to(folder) for p in Path(folder).glob("*/*.ipynb")}


def build(course, check=False):
    """Regenerate assignments/ (or, with check=True, only compare). Returns the out-of-date paths."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "release"
        generate(course, fresh, f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        new, old = _notebooks(fresh), _notebooks(course.assignments)
        stale = sorted(p for p in new if p not in old or not filecmp.cmp(fresh / p, course.assignments / p, shallow=False))
        orphans = sorted(old - new)
        if not check:
            for path in stale:
                (course.assignments / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(fresh / path, course.assignments / path)
            for path in orphans:
                (course.assignments / path).unlink()
    return [course.assignments / p for p in stale + orphans]
