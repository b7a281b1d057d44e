"""Bring submissions into nbgrader's layout: <student_id>/<assignment>/<notebook>.ipynb.

Accepted input:
- a folder already in that layout (nbgrader's submitted/ folder, for example);
- a .zip of such a folder (with or without one enclosing folder);
- an LMS download (.zip with one file or archive per student) in the file-name convention of
  `nbgrader zip_collect`: each file name holds the student id and the original file name, read
  with a regular expression (named groups `student_id` and `file_id`; `timestamp` if there is one).
  The assignment is the notebook's name (notebooks are named after their assignment) unless given.

Nothing in the input is trusted. Archives are unpacked by autograder.intake.unpack (sizes, depth and file
count limited; `../` members, links and fake archives refused per archive); symlinks in a folder
are refused; any file name (not UTF-8, very long, control characters) is kept only as text.
Student ids become safe folder names: an id that is not already one becomes `readable~hash`, the
hash taken of the original bytes, in a form (with `~`) that no safe id can take: two inputs never
merge into one student (`bob smith`, `bob_smith~…` and `bob_smith` stay three students, and so do
names that differ only in bytes that are not UTF-8). Two files that would land on one notebook of
one student are both kept (the second as `name~2.ipynb`) and both reported. In an LMS
download, the pattern is matched from the start of the name and a student id may not contain
the separator `_`, so a file name cannot claim another student's id; two files for one student and
notebook are both reported, and the latest attempt is graded. Every file that cannot be placed
becomes a problem in the report, never a silent skip, and never stops the others' grading.
"""
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath

from . import unpack
from ..records import Problem

# The file names of nbgrader's zip_collect documentation (Blackboard-style downloads):
# "ps1_bitdiddle_attempt_2016-01-30-15-00-00_problem1.ipynb". Other LMSs: pass --lms-regexp.
# Anchored at the start, lazy prefix: the first "_<id>_attempt_" of a name is the LMS's own.
DEFAULT_LMS_REGEXP = r"^(?P<prefix>.*?)_(?P<student_id>[^\W_]+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>.+)$"
# What `nbgrader submit` puts beside the notebooks: when the student submitted, and the key under which
# `nbgrader release_feedback` publishes the feedback. Kept with the submission (see grade.record_exchange_files).
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
SAFE_NOTEBOOK = re.compile(r"[\w .()\-]{1,100}\.ipynb")


def text(name):
    """A file name as printable text (names that are not UTF-8 keep a replacement character)."""
    return str(name).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def student_id(raw):
    """A safe folder name for a student id: a safe id as it is, any other as `readable~hash` of its bytes."""
    if SAFE_ID.fullmatch(str(raw)):
        return str(raw)
    original = str(raw).encode("utf-8", "surrogateescape")
    readable = re.sub(r"[^A-Za-z0-9.\-]+", "_", text(raw)).strip("._-")[:40]
    return f"{readable or 'student'}~{hashlib.sha256(original).hexdigest()[:12]}"


def _stage(path, target_folder, name):
    """Copy `path` to target_folder/name, or to name~2, name~3, ... if that is taken; returns the new path."""
    target_folder.mkdir(parents=True, exist_ok=True)
    target, k = target_folder / name, 1
    while target.exists():
        k += 1
        target = target_folder / f"{Path(name).stem}~{k}{Path(name).suffix}"
    shutil.copyfile(path, target)
    return target


def collect(source, staging, assignments=None, assignment=None, lms_regexp=DEFAULT_LMS_REGEXP):
    """Copy the submissions in `source` into staging/<student>/<assignment>/.

    assignments: the course's assignment ids (default: those of this repository's course). Returns
    ({(student, assignment): [notebook paths]}, [(student, assignment, Problem)]).
    """
    source, staging = Path(source), Path(staging)
    if assignments is None:
        from ..course import Course
        assignments = Course.here().assignment_ids
    assignments = set(assignments)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        entries, refused = _entries(source, Path(tmp))
        problems = [("unknown", "", Problem("unsafe-file", f"{text(name)}: {reason}")) for name, reason in refused]
        depth = _layout_depth(entries, assignments)
        if depth is not None:
            found, more = _from_layout(entries, depth, staging, assignments)
        else:
            found, more = _from_lms(entries, staging, assignments, assignment, lms_regexp)
    return found, problems + more


def _entries(source, tmp):
    """([(name parts, path)], [(name, reason)]) of every file of the input, archives unpacked."""
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise ValueError(f"{source} is neither a folder nor a zip archive")
        files, refused = unpack.unpack(source, tmp / "unpacked")
        return [(PurePosixPath(f.name).parts[1:], f.path) for f in files], refused
    if not source.is_dir():
        raise ValueError(f"{source} does not exist")
    entries, refused = [], []
    for folder, dirs, names in os.walk(source):                 # symlinks are not followed
        for name in sorted(dirs + names):
            path = Path(folder) / name
            relative = path.relative_to(source)
            if path.is_symlink():
                refused.append((str(relative), "a symbolic link: not followed"))
            elif path.is_file() and unpack.is_archive(path):
                files, trouble = unpack.unpack(path, tmp / f"archive{len(entries):05d}", str(relative))
                entries += [(PurePosixPath(f.name).parts, f.path) for f in files]
                refused += trouble
            elif path.is_file():
                entries.append((relative.parts, path))
        dirs[:] = [d for d in dirs if not (Path(folder) / d).is_symlink()]
    return entries, refused


def _layout_depth(entries, assignments):
    """How many leading folders come before <student>/<assignment>/<notebook> (0 or 1), or None."""
    for depth in (0, 1):
        if any(len(parts) == depth + 3 and parts[depth + 1] in assignments and parts[-1].endswith(".ipynb")
               for parts, _ in entries):
            return depth
    return None


def _from_layout(entries, depth, staging, assignments):
    found, problems, unknown, raw_ids = {}, [], set(), set()
    for parts, path in sorted(entries):
        parts = parts[depth:]
        if len(parts) != 3:
            problems.append(("unknown", "", Problem("unmatched-file", f"{text('/'.join(parts))} is not in the layout "
                                                                      "<student>/<assignment>/<notebook>.ipynb")))
            continue
        raw_student, assignment_name, name = parts
        student = student_id(raw_student)
        raw_ids.add(raw_student)
        if assignment_name not in assignments:
            if (student, assignment_name) not in unknown:
                unknown.add((student, assignment_name))
                problems.append((student, text(assignment_name)[:60], Problem(
                    "unknown-assignment", f"{text(assignment_name)[:60]} is not an assignment of this course")))
            continue
        target = staging / student / assignment_name
        target.mkdir(parents=True, exist_ok=True)
        if name in EXCHANGE_FILES:
            if (target / name).exists():
                problems.append((student, assignment_name, Problem("duplicate-submission", f"two copies of {name}; "
                                                                   "the first is kept")))
            else:
                shutil.copyfile(path, target / name)
        elif name.endswith(".ipynb"):
            safe = name if SAFE_NOTEBOOK.fullmatch(name) and "~" not in name else "renamed.ipynb"
            found.setdefault((student, assignment_name), []).append(_stage(path, target, safe))
    problems += _renamed_students(raw_ids)
    for key in found:
        found[key].sort()
    return found, problems


def _renamed_students(raw_ids):
    return [(student_id(raw), "", Problem("renamed-student", f"the student id {text(raw)[:80]!r} is graded as "
                                                             f"{student_id(raw)!r} (not a safe folder name)"))
            for raw in sorted(raw_ids) if student_id(raw) != text(raw)]


def _from_lms(entries, staging, assignments, assignment, lms_regexp):
    pattern = re.compile(lms_regexp)
    if not {"student_id", "file_id"} <= set(pattern.groupindex):
        raise ValueError(f"the LMS pattern {lms_regexp!r} needs the named groups (?P<student_id>...) and (?P<file_id>...)")
    candidates, problems, matched = {}, [], []      # candidates: {(student, assignment, notebook): [(timestamp, name, path)]}
    for parts, path in sorted(entries):
        relative = text("/".join(parts))
        match = pattern.match(text(parts[-1])) if parts[-1].endswith(".ipynb") else None
        if match:
            matched.append((relative, path, match))
        else:
            why = "is not a notebook" if not parts[-1].endswith(".ipynb") else "does not match the LMS file pattern"
            problems.append(("unknown", "", Problem("unmatched-file", f"{relative[:200]} {why}")))
    # Every file of one download starts with the same LMS prefix (the assignment's name there). A file whose
    # prefix is longer had a student id with the separator in it: "a1_bob_smith_attempt_..." is not "smith"'s.
    prefixes = Counter(m.groupdict().get("prefix") for _, _, m in matched)
    usual = prefixes.most_common(1)[0][0] if prefixes else None
    for relative, path, match in matched:
        raw, file_id = match.group("student_id"), match.group("file_id")
        if not SAFE_ID.fullmatch(raw or "") or "_" in raw or match.groupdict().get("prefix") != usual:
            problems.append(("unknown", "", Problem("unmatched-file", f"{relative[:200]}: no unambiguous student id (ASCII "
                                                                      "letters, digits, '.', '-'; never the separator '_')")))
            continue
        file_id = file_id if file_id.endswith(".ipynb") else file_id + ".ipynb"
        target_assignment = assignment or _assignment_of(file_id, assignments)
        if target_assignment is None:
            problems.append((raw, "", Problem("unknown-assignment",
                                              f"{relative[:200]}: cannot tell the assignment from {file_id[:100]}; use --assignment")))
            continue
        name = Path(file_id).name if SAFE_NOTEBOOK.fullmatch(Path(file_id).name) and "~" not in file_id else "renamed.ipynb"
        stamp = match.groupdict().get("timestamp") or ""
        candidates.setdefault((raw, target_assignment, name), []).append((stamp, relative, path))
    found = {}
    for (student, target_assignment, name), files in sorted(candidates.items()):
        files.sort()
        if len(files) > 1:
            problems.append((student, target_assignment, Problem(
                "duplicate-submission", f"{len(files)} files for {name}: " + ", ".join(f[1][:120] for f in files) +
                f"; the latest ({files[-1][1][:120]}) is graded", Path(name).stem)))
        found.setdefault((student, target_assignment), []).append(_stage(files[-1][2], staging / student / target_assignment, name))
    return found, problems


def _assignment_of(file_id, assignments):
    stem = Path(file_id).stem
    return stem if stem in assignments else None


def manifest(found, problems, staging):
    """What intake hands the grading process, as JSON: every submission's staged files, and the problems.

    {"submissions": [{"student", "assignment", "files": [name], "timestamp": text or "", "exchange": [name]}],
     "problems": [report rows]}; file names are relative to staging/<student>/<assignment>/.
    """
    submissions = []
    for (student, assignment), paths in sorted(found.items()):
        folder = Path(staging) / student / assignment
        stamp = folder / "timestamp.txt"
        submissions.append({"student": student, "assignment": assignment, "files": sorted(p.name for p in paths),
                            "timestamp": stamp.read_text(errors="replace")[:200] if stamp.is_file() else "",
                            "exchange": [n for n in EXCHANGE_FILES if (folder / n).is_file()]})
    return {"submissions": submissions, "problems": [p.as_dict(s, a) for s, a, p in problems]}
