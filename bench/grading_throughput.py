"""Grading throughput: the autograder against plain nbgrader and against bare execution.

    python bench/grading_throughput.py [--json out.json]

Four submissions per assignment (two perfect, one with the last function left undone, one
untouched; 24 for the six assignments) are graded three ways on this machine, one after the other:
  1. plain nbgrader, as an instructor would run it without this project: a course folder with
     `nbgrader generate_assignment` and then `nbgrader autograde ASSIGNMENT` for each assignment,
     sequentially (no sandbox, no feedback);
  2. `python -m autograder grade --jobs 2` (sandboxed kernels, feedback, report, fresh output folder)
     and the same with --jobs 1;
  3. the notebooks nbgrader would execute (submissions with the test cells restored from the
     source), run one by one with nbclient and nothing else: the cost of the code itself.
Reported: submissions per minute, the speed-up over plain nbgrader, and the overhead of the
autograder per job (jobs 1) over bare execution.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder import course
from autograder.course import samples as sample_submissions  # noqa: E402
from autograder.course import Course

COURSE = Course.here()

ENV = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}


def make_submissions(folder):
    """{(student, assignment): notebook} for the four submissions of each assignment, in nbgrader's layout."""
    made = {}
    for assignment in COURSE.assignment_ids:
        release = nbformat.read(str(COURSE.assignments / assignment / f"{assignment}.ipynb"), as_version=4)
        solution_ids = [c.metadata["nbgrader"]["grade_id"] for c in release.cells
                        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
        versions = [sample_submissions.filled(assignment), sample_submissions.filled(assignment),
                    sample_submissions.filled(assignment, {solution_ids[-1]: "raise NotImplementedError()"}), release]
        for k, nb in enumerate(versions, start=1):
            path = folder / f"student{k}" / assignment / f"{assignment}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
            made[(f"student{k}", assignment)] = nb
    return made


def as_graded(nb, assignment):
    """The notebook nbgrader executes: locked cells replaced by the source's (hidden tests included)."""
    source = nbformat.read(str(COURSE.solutions / assignment / f"{assignment}.ipynb"), as_version=4)
    locked = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
              if c.metadata.get("nbgrader", {}).get("locked")}
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)      # a copy
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in locked:
            cell.source = locked[grade_id]
    return nb


def plain_nbgrader(submissions, work):
    """Seconds for nbgrader generate_assignment + autograde of every assignment, as a fresh course."""
    root = work / "plain"
    shutil.copytree(COURSE.solutions, root / "source")
    shutil.copytree(submissions, root / "submitted")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.root = %r\n" % str(root))
    start = time.perf_counter()
    for assignment in COURSE.assignment_ids:
        for command in (["generate_assignment", assignment, "--force"], ["autograde", assignment, "--force"]):
            subprocess.run([sys.executable, "-m", "nbgrader", *command], cwd=root, env=ENV, check=True,
                           capture_output=True)
    return time.perf_counter() - start


def autograder(submissions, work, jobs):
    out = work / f"out{jobs}"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(submissions), "--out", str(out),
                    "--jobs", str(jobs), "--quiet"], env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def direct(made, work):
    """Seconds to execute the graded notebooks one by one with nbclient, one BLAS thread."""
    from nbclient import NotebookClient
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    notebooks = [as_graded(nb, a) for (_, a), nb in made.items()]
    start = time.perf_counter()
    for nb in notebooks:
        NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": str(work)}}).execute()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        submissions = work / "submitted"
        made = make_submissions(submissions)
        n = len(made)
        times = {"plain nbgrader, sequential": plain_nbgrader(submissions, work),
                 "autograder --jobs 2": autograder(submissions, work, 2),
                 "autograder --jobs 1": autograder(submissions, work, 1),
                 "nbclient only, sequential": direct(made, work)}
    print(f"{n} submissions on {os.cpu_count()} cores")
    for name, seconds in times.items():
        print(f"{name:28} {seconds:7.1f} s   {n / seconds * 60:6.1f} submissions/min")
    speedup = times["plain nbgrader, sequential"] / times["autograder --jobs 2"]
    overhead = times["autograder --jobs 1"] / times["nbclient only, sequential"]
    print(f"autograder --jobs 2 is {speedup:.2f}x plain nbgrader (target >= 1.7); "
          f"per job it takes {overhead:.2f}x bare execution (target < 1.3)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"submissions": n, "seconds": times, "speedup_over_nbgrader": speedup,
                       "overhead_over_direct": overhead}, f, indent=1)


if __name__ == "__main__":
    main()
