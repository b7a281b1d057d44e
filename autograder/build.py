"""Generate the student versions in assignments/ from the sources in solutions/.

`build()` regenerates every assignment with `nbgrader generate_assignment` into a scratch
folder, then copies the notebooks that changed into assignments/. `build(check=True)` only
compares and returns the notebooks that are out of date (missing, different or orphaned).
"""
import filecmp
import shutil
import tempfile
from pathlib import Path

from . import course


def generate(release_dir, gradebook_url, assignments=None, course_id=course.COURSE_ID):
    """Run nbgrader generate_assignment for each assignment, writing to release_dir/<assignment>/."""
    config = course.nbgrader_config(Path(release_dir).parent, gradebook_url, release_directory=release_dir,
                                    course_id=course_id)
    api = course.api(config)
    for assignment in assignments or course.assignment_ids():
        result = api.generate_assignment(assignment, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not generate {assignment}:\n{result['error']}\n{result['log']}")


def _notebooks(folder):
    return {p.relative_to(folder) for p in Path(folder).glob("*/*.ipynb")}


def build(check=False):
    """Regenerate assignments/ (or, with check=True, only compare). Returns the out-of-date paths."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "release"
        generate(fresh, f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        new, old = _notebooks(fresh), _notebooks(course.ASSIGNMENTS)
        stale = sorted(p for p in new if p not in old or not filecmp.cmp(fresh / p, course.ASSIGNMENTS / p, shallow=False))
        orphans = sorted(old - new)
        if not check:
            for path in stale:
                (course.ASSIGNMENTS / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(fresh / path, course.ASSIGNMENTS / path)
            for path in orphans:
                (course.ASSIGNMENTS / path).unlink()
    return [course.ASSIGNMENTS / p for p in stale + orphans]
