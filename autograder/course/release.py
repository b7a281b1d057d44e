"""python -m autograder release OUT: the student edition of the course, a folder and a zip beside it.

What a student gets, and nothing the grader keeps secret:

    OUT/README.md                   how to start (Russian): two commands, links to every lecture and assignment
    OUT/Makefile, OUT/pyproject.toml   the student environment, pinned like the course's own
    OUT/check_assignments.py        runs the visible tests of every assignment (edition/check_assignments.py)
    OUT/lectures/                   the executed lecture notebooks (read-only: mode 444) and their README
    OUT/assignments/<a>/<a>.ipynb   the student versions that `python -m autograder build` made
    OUT/rnncore/                    the reference package and its data
    OUT/autograder/__init__.py, OUT/autograder/testing.py   what the visible tests import
    OUT/.rnncourse-edition          marker: this folder is an edition (a later release may replace it)
    OUT.zip                         the same, in one enclosing folder

No solutions/, no hidden tests, no sample submissions, no gradebook, no git history:
`edition_files` lists every file copied, and tests/course/test_release.py checks the result.
"""
import os
import re
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path

from . import build

EDITION = Path(__file__).resolve().parent / "edition"   # the edition's own files: README, Makefile, ... (real files)
MARKER = ".rnncourse-edition"
ZIP_DATE = (2020, 1, 1, 0, 0, 0)          # fixed dates: the same edition gives the same zip

# Student-side extras, the one place to add to the edition: the student mode of JupyterLab (deploy/student-mode/:
# the edition's README opens first, nbgrader's instructor panels are off, Validate tells lectures from assignments).
# Each is checked for secrets by tests/course/test_release.py. The edition's Makefile (edition/Makefile) installs the
# student mode once after installing the environment; it also hides the edition's machinery from JupyterLab's file
# browser and writes the kernelspec that runs the lectures with the repository's pins (install.py's NOTEBOOK_ENV).
STUDENT_MODE = Path("deploy") / "student-mode"
STUDENT_MODE_FILES = ["install.py", "rnncourse_student_mode.py", "README.md"]
LECTURE_MODE = 0o444     # lectures are read-only: opening, autosave and Validate leave them as released


class ReleaseError(ValueError):
    """The edition cannot be written; the message says why and what to do."""


def edition_files(course):
    """[(source path, relative path in the edition)] of every file copied from the course's repository."""
    root = Path(course.root)
    files = [(p, p.relative_to(root)) for p in sorted((root / "lectures").glob("*.ipynb"))]
    for assignment in course.assignment_ids:
        files += [(p, p.relative_to(root)) for p in course.release_notebooks(assignment).values()]
    rnncore = root / "rnncore"
    files += [(p, p.relative_to(root)) for p in sorted(rnncore.glob("*.py"))]
    files += [(p, p.relative_to(root)) for p in sorted((rnncore / "data").glob("*.txt"))]
    files += [(root / "autograder" / name, Path("autograder") / name) for name in ("__init__.py", "testing.py")]
    files += [(root / STUDENT_MODE / name, STUDENT_MODE / name) for name in STUDENT_MODE_FILES]
    files += [(EDITION / name, Path(name)) for name in ("Makefile", "check_assignments.py")]
    return files


def student_requirements(course):
    """The pinned packages a student needs: the course's numpy pin and its `course` extra (no test tools)."""
    project = tomllib.loads((Path(course.root) / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["course"]


def check_out(out):
    """Refuse an OUT (or OUT.zip) that exists and is not an earlier edition; never delete anything else."""
    out = Path(out)
    if out.exists() and not (out.is_dir() and (out / MARKER).is_file()):
        raise ReleaseError(f"{out} exists and is not a student edition (it has no {MARKER} file); "
                           "nothing was changed. Choose a new folder, or remove this one yourself.")
    archive = out.with_name(out.name + ".zip")
    if archive.exists():
        try:
            with zipfile.ZipFile(archive) as zf:
                ours = f"{out.name}/{MARKER}" in zf.namelist()
        except zipfile.BadZipFile:
            ours = False
        if not ours:
            raise ReleaseError(f"{archive} exists and is not a student edition; nothing was changed. "
                               "Choose another OUT, or remove that file yourself.")


def check_assignments_fresh(course):
    """Refuse to release student versions that are out of date with solutions/ (naming them)."""
    stale = build.build(course, check=True)
    if stale:
        names = "\n".join(f"  {p}" for p in stale)
        raise ReleaseError("assignments/ is out of date with solutions/; these notebooks differ, are missing "
                           f"or have no source:\n{names}\nRun `python -m autograder build` first, then release again.")


def release(course, out, calendar=None):
    """Write the student edition of `course` to `out` and `out`.zip; returns the path of the zip.

    calendar: a term.calendar.Calendar whose deadlines the README shows (None: no deadlines section)."""
    out = Path(out).resolve()
    check_out(out)
    check_assignments_fresh(course)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))    # renamed into place when complete
    try:
        partial.chmod(0o755)
        for src, dest in edition_files(course):
            (partial / dest).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, partial / dest)
        write_generated(course, partial, calendar)
        for lecture in (partial / "lectures").glob("*.ipynb"):
            lecture.chmod(LECTURE_MODE)
    except BaseException:
        shutil.rmtree(partial)
        raise
    if out.exists():                                  # an earlier edition (check_out made sure)
        shutil.rmtree(out)
    partial.rename(out)
    return write_zip(out)


def write_generated(course, root, calendar=None):
    """The files made for the edition: the READMEs (with the contents and the deadlines), pyproject.toml (with the
    course's pins), the marker."""
    (root / "lectures" / "README.md").write_text(lectures_readme(course))
    readme = (EDITION / "README.md").read_text().replace("@CONTENTS@", contents(course))
    if calendar is not None:
        from ..term.calendar import deadlines_markdown
        readme += "\n" + deadlines_markdown(calendar)
    (root / "README.md").write_text(readme)
    pins = "".join(f'    "{pin}",\n' for pin in student_requirements(course))
    (root / "pyproject.toml").write_text((EDITION / "pyproject.toml").read_text().replace("@PINS@", pins))
    (root / MARKER).write_text("student edition of the recurrent neural networks course; "
                               "`python -m autograder release` may replace this folder\n")


def contents(course):
    """The README's list of lectures and assignments, as Markdown links into the edition."""
    lectures = sorted(p.name for p in (Path(course.root) / "lectures").glob("*.ipynb"))
    lines = ["Лекции (папка [lectures](lectures/README.md)):", ""]
    lines += [f"- [{name.removesuffix('.ipynb')}](lectures/{name})" for name in lectures]
    lines += ["", "Задания (папка `assignments/`):", ""]
    lines += [f"- [{a}](assignments/{a}/{a}.ipynb)" for a in course.assignment_ids]
    return "\n".join(lines)


def lectures_readme(course):
    """lectures/README.md with its last section (how to run them in the course repository) replaced."""
    text = (Path(course.root) / "lectures" / "README.md").read_text()
    head = re.split(r"^## Running them\s*$", text, flags=re.MULTILINE)[0].rstrip()
    return head + ("\n\n## Running them\n\n`make lab` in the folder above opens JupyterLab (see ../README.md). "
                   "The lectures are stored read-only, so that they stay as released; to experiment, keep a copy: "
                   "File → Save Notebook As….\n")


def write_zip(out):
    """out.zip with every file under one folder named like `out`, in a stable order with fixed dates."""
    archive = out.with_name(out.name + ".zip")
    fd, partial = tempfile.mkstemp(prefix=f".{out.name}-", suffix=".zip", dir=out.parent)
    os.close(fd)
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in out.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{out.name}/{path.relative_to(out).as_posix()}", ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            lecture = path.parent == out / "lectures" and path.suffix == ".ipynb"
            info.external_attr = (LECTURE_MODE if lecture else 0o644) << 16   # lectures stay read-only when unzipped
            zf.writestr(info, path.read_bytes())
    os.chmod(partial, 0o644)                          # mkstemp made it private
    os.replace(partial, archive)
    return archive





