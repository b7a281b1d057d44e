"""Bring submissions into nbgrader's layout: <student_id>/<assignment>/<notebook>.ipynb.

Accepted input:
- a folder already in that layout (nbgrader's submitted/ folder, for example);
- a .zip of such a folder (with or without one enclosing folder);
- an LMS download (.zip with one file or archive per student) as `nbgrader zip_collect`
  understands it: nbgrader's ExtractorPlugin unpacks nested archives and its
  FileNameCollectorPlugin reads student_id and file_id from each file name with a regular
  expression. The assignment is the notebook's name (notebooks are named after their assignment)
  unless given.
Every file that cannot be placed becomes a problem in the report, never a silent skip.
"""
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from . import course
from .precheck import Problem

# The file names of nbgrader's zip_collect documentation (Blackboard-style downloads):
# "ps1_bitdiddle_attempt_2016-01-30-15-00-00_problem1.ipynb". Other LMSs: pass --lms-regexp.
DEFAULT_LMS_REGEXP = r".*_(?P<student_id>\w+?)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>.+)"


def _safe_name(text):
    return re.sub(r"[^\w.\-]", "_", text).strip("._") or "unknown"


def _layout_root(folder, assignments):
    """The folder whose children are student folders holding assignment folders, or None."""
    folder = Path(folder)
    for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        hits = [p for p in candidate.glob("*/*") if p.is_dir() and p.name in assignments and any(p.glob("*.ipynb"))]
        if hits:
            return candidate
    return None


def _unzip(archive, target):
    with zipfile.ZipFile(archive) as zf:
        for member in zf.infolist():
            path = Path(target, member.filename).resolve()
            if not str(path).startswith(str(Path(target).resolve())):
                raise ValueError(f"{archive} contains a path outside the archive: {member.filename}")
        zf.extractall(target)


def collect(source, staging, assignment=None, lms_regexp=DEFAULT_LMS_REGEXP):
    """Copy the submissions in `source` into staging/<student>/<assignment>/.

    Returns ({(student, assignment): [notebook paths]}, [(student, assignment, Problem)]).
    """
    source, staging = Path(source), Path(staging)
    assignments = set(course.assignment_ids())
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = source
        if source.is_file():
            if not zipfile.is_zipfile(source):
                raise ValueError(f"{source} is neither a folder nor a zip archive")
            folder = Path(tmp) / "unzipped"
            _unzip(source, folder)
        elif not source.is_dir():
            raise ValueError(f"{source} does not exist")
        root = _layout_root(folder, assignments)
        if root is not None:
            return _from_layout(root, staging, assignments)
        return _from_lms(folder, staging, Path(tmp), assignments, assignment, lms_regexp)


def _from_layout(root, staging, assignments):
    found, problems = {}, []
    for student_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        student = _safe_name(student_dir.name)
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            notebooks = sorted(assignment_dir.glob("*.ipynb"))
            if assignment_dir.name not in assignments:
                problems.append((student, assignment_dir.name,
                                 Problem("unknown-assignment", f"{assignment_dir.name} is not an assignment of this course")))
                continue
            target = staging / student / assignment_dir.name
            target.mkdir(parents=True, exist_ok=True)
            for nb in notebooks:
                shutil.copyfile(nb, target / nb.name)
            found[(student, assignment_dir.name)] = [target / nb.name for nb in notebooks]
    return found, problems


def _from_lms(folder, staging, tmp, assignments, assignment, lms_regexp):
    from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
    extracted = tmp / "extracted"
    ExtractorPlugin().extract(str(folder), str(extracted))
    collector = FileNameCollectorPlugin(named_regexp=lms_regexp)
    found, problems = {}, []
    for path in sorted(p for p in extracted.rglob("*") if p.is_file()):
        relative = str(path.relative_to(extracted))
        info = collector.collect(path.name) if path.suffix == ".ipynb" else None
        if not info:
            problems.append(("unknown", "", Problem("unmatched-file", f"{relative} does not match the LMS file pattern")))
            continue
        student = _safe_name(info["student_id"])
        file_id = info["file_id"] if info["file_id"].endswith(".ipynb") else info["file_id"] + ".ipynb"
        target_assignment = assignment or _assignment_of(file_id, assignments)
        if target_assignment is None:
            problems.append((student, "", Problem("unknown-assignment",
                                                  f"{relative}: cannot tell the assignment from {file_id}; use --assignment")))
            continue
        target = staging / student / target_assignment
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / Path(file_id).name)
        found.setdefault((student, target_assignment), []).append(target / Path(file_id).name)
    return found, problems


def _assignment_of(file_id, assignments):
    stem = Path(file_id).stem
    return stem if stem in assignments else None
