"""python -m autograder demo (what `make demo` runs): build the course, grade the bundled samples.

The samples in autograder/samples/submissions/ are written by the course itself and contain no
hostile code, so when this machine cannot sandbox submissions the demo still runs, after saying
loudly what is missing. Grading real submissions refuses to do that without --allow-unsandboxed.
"""
import shutil
import sys

from ..judge import sandbox
from ..pipeline import grade, report
from . import REPO, SAMPLES, build


def demo(course, out, jobs):
    print("1/3  Regenerating the student versions in assignments/ from solutions/ (nbgrader generate_assignment)")
    changed = build.build(course)
    print(f"     {len(course.assignment_ids)} assignments, {len(changed)} notebook(s) changed")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    probe = sandbox.probe(out / "cache" / "probe")
    if probe.complete:
        print("2/3  Sandbox: bubblewrap available; every kernel runs isolated with resource limits")
    else:
        print("2/3  SANDBOX INCOMPLETE on this machine:\n" + "\n".join(f"       - {m}" for m in probe.missing) +
              "\n     The bundled samples are harmless, so the demo grades them anyway;"
              "\n     `python -m autograder grade` refuses untrusted code here unless given --allow-unsandboxed.")
    samples = SAMPLES / "submissions"
    print(f"3/3  Grading {sum(1 for _ in samples.glob('*/*'))} sample submissions from {samples} with {jobs} job(s)")
    settings = grade.Settings(out=out, jobs=jobs, timeout=15, allow_unsandboxed=True, course=course,
                              calendar=REPO / "docs" / "calendar.example.toml")
    summary = grade.grade(samples, settings)
    report.print_summary(summary, out.resolve())
    print(f"\ngraded in {summary['seconds']} s, sandbox: {summary['sandbox']}")
    print(f"statistics: {summary['statistics']}")
    return 0


if __name__ == "__main__":
    from . import Course
    sys.exit(demo(Course.here(), REPO / "build" / "demo", 2))
