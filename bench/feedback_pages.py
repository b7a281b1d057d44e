"""Feedback pages: the grader's renderer against nbgrader's generate_feedback, side by side in one run.

    python bench/feedback_pages.py [--pages 10] [--json out.json]

One submission of each assignment (the perfect sample) is autograded once with plain nbgrader, in
a course folder of its own. Then its feedback page is made --pages times each way:
  1. nbgrader's `generate_feedback` with the course's configuration as it was (nbconvert's
     SanitizeHTML, i.e. bleach, and a new converter and exporter per call);
  2. `autograder.feedback.render` as a worker makes it: one exporter per process, warmed up on the
     release, nh3 for the outputs' HTML, formulas as MathML.
Reported: seconds per page each way and the ratio.
"""
import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder import course  # noqa: E402
from autograder.judge import feedback  # noqa: E402
from autograder.course import SAMPLES, Course  # noqa: E402

COURSE = Course.here()


def autograded_course(root, assignments):
    """A course folder where the perfect sample of each assignment has been autograded by plain nbgrader."""
    config = course.nbgrader_config(root, f"sqlite:///{root / 'gradebook.db'}", COURSE.solutions, root / "release")
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbconvert.preprocessors.sanitize import SanitizeHTML
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades
    config.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, SanitizeHTML, CSSHTMLHeaderPreprocessor]
    config.SanitizeHTML.enabled = True
    api = course.api(config)
    for assignment in assignments:
        api.generate_assignment(assignment, force=True)
        target = root / "submitted" / "student" / assignment
        target.mkdir(parents=True)
        shutil.copyfile(SAMPLES / "submissions" / "perfect" / assignment / f"{assignment}.ipynb",
                        target / f"{assignment}.ipynb")
        assert api.autograde(assignment, "student", force=True, create=True)["success"]
    return api


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--json")
    args = parser.parse_args()
    assignments = COURSE.assignment_ids
    with tempfile.TemporaryDirectory(prefix="feedback-bench-") as tmp:
        root = Path(tmp)
        api = autograded_course(root, assignments)
        started = time.perf_counter()
        for _ in range(args.pages):
            for assignment in assignments:
                made = api.generate_feedback(assignment, "student", force=True)
                assert made["success"], made.get("error") or made.get("log")
        nbgrader_seconds = (time.perf_counter() - started) / (args.pages * len(assignments))
        feedback.warm_up(root / "release")
        started = time.perf_counter()
        for _ in range(args.pages):
            for assignment in assignments:
                folder = root / "autograded" / "student" / assignment
                notebooks = {p.stem: nbformat.read(str(p), as_version=4) for p in folder.glob("*.ipynb")}
                feedback.render(notebooks, f"sqlite:///{root / 'gradebook.db'}", assignment, "student")
        ours = (time.perf_counter() - started) / (args.pages * len(assignments))
    result = {"pages": args.pages * len(assignments), "nbgrader_seconds_per_page": round(nbgrader_seconds, 3),
              "render_seconds_per_page": round(ours, 3), "speed_up": round(nbgrader_seconds / ours, 1)}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
