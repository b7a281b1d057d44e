"""What moves along the grading pipeline, in one place.

    Problem      one thing worth telling the instructor about a submission
    Grade        the score of one graded cell
    Job          one submission to grade: everything a worker needs, on any machine
    Result       what grading one submission gave: its grades, problems, failures and feedback
    Observation  what the grader saw in one cell while it ran a notebook (a verdict, a timeout, ...)
    CourseFiles  what every job of a run shares: the course's notebooks and template gradebook

A `Problem`'s `kind` is a short slug (the kinds are listed in autograder/README.md), `detail` says
what happened in a sentence, `notebook` names the notebook when there is one. A detail may quote
what a student chose (a file name, a cell's id): control characters are removed when a Problem is
made, so neither report.json nor a terminal ever carries an escape sequence or a forged line break.

Records cross process and machine boundaries as JSON (`to_json` / `from_json`), never as pickles,
and carry file contents rather than paths: a worker needs no shared file system. A Result comes
from a worker, which decodes student data: `Result.from_json` checks every field's type and size
and raises ValueError on anything else. Files that later runs read back are written atomically
(`write_atomic`: a temporary name in the same folder, then a rename).
"""
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")   # C0 (newlines too), DEL, C1, bidi overrides
MAX_PROBLEMS_PER_KIND = 20          # per submission; the rest is counted in one more Problem
MAX_RESULT_BYTES = 64 * 2 ** 20     # a result file larger than this is not read


def plain_text(text, limit=2000):
    """`text` with control characters replaced by spaces, at most `limit` characters."""
    text = CONTROL.sub(" ", str(text))
    return text if len(text) <= limit else text[:limit] + "…"


def write_atomic(path, text):
    """Write `text` to `path` so that a reader sees the old file or the new one, never a part."""
    path = Path(path)
    descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(scratch, 0o644)
        os.replace(scratch, path)
    except BaseException:
        try:
            os.unlink(scratch)
        except OSError:
            pass
        raise


def read_limited(path, limit=MAX_RESULT_BYTES):
    """The text of a regular file that is not a link and not larger than `limit`; ValueError otherwise."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError(f"{Path(path).name} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{Path(path).name} is larger than {limit} bytes")
    return data.decode("utf-8")


@dataclass
class Problem:
    """One thing worth telling the instructor about a submission."""
    kind: str
    detail: str
    notebook: str = ""

    def __post_init__(self):
        self.kind, self.detail, self.notebook = plain_text(self.kind, 60), plain_text(self.detail), plain_text(self.notebook, 100)

    def as_dict(self, student, assignment):
        """The row of report.json's problem list."""
        return {"student": student, "assignment": assignment, **asdict(self)}


@dataclass
class Grade:
    """The score of one graded cell (nbgrader's grade_id) of one notebook."""
    notebook: str
    grade_id: str
    score: float
    max_score: float


@dataclass
class Job:
    """One submission (one student, one assignment) to grade.

    files: {file name: base64 of the bytes submitted} (the worker parses them); timestamp: the text
    of nbgrader's timestamp.txt, "" if none; key: a digest of everything that decides the grade (the
    cache key of incremental runs); problems: what collection found.
    """
    student: str
    assignment: str
    key: str
    files: dict
    timeout: int                         # seconds per cell
    wall_timeout: int                    # seconds for the whole job (a ceiling the per-cell limits reach first)
    limits: dict                         # sandbox.Limits as a dict
    problems: list = field(default_factory=list)      # [Problem]
    hide: list = field(default_factory=list)          # paths a kernel must not see, besides the sandbox's own
    timestamp: str = ""
    return_graded: bool = False          # send the graded notebooks back (nbgrader's Autograde records them), no feedback

    @property
    def name(self):
        return f"{self.student}/{self.assignment}"

    def to_json(self):
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        data["problems"] = [Problem(**p) for p in data["problems"]]
        return cls(**data)


@dataclass
class Result:
    """What grading one submission gave.

    grades: every graded cell (a missing one counts 0); problems: everything found, the collection's
    included; failures: {grade_id: why that test failed}; submitted: when (ISO 8601, UTC) the
    student handed it in, "" if unknown; feedback: {notebook id: HTML}; timing: where the time went;
    graded: {notebook id: notebook JSON text} of the notebooks the worker graded, only for a Job that
    asks for them (`return_graded`; pipeline/formgrade.py), whose test cells' outputs were written from
    the verdicts.
    """
    student: str
    assignment: str
    key: str
    grades: list = field(default_factory=list)        # [Grade]
    problems: list = field(default_factory=list)      # [Problem]
    failures: dict = field(default_factory=dict)
    submitted: str = ""
    feedback: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    graded: dict = field(default_factory=dict)

    @classmethod
    def failed(cls, job, detail):
        """A grader-error result: 0 points, recorded for review (a grade is never lost silently)."""
        return cls(job.student, job.assignment, job.key, problems=[*job.problems, Problem("grader-error", detail)])

    @property
    def grader_error(self):
        return any(p.kind == "grader-error" for p in self.problems)

    def capped(self):
        """This Result with at most MAX_PROBLEMS_PER_KIND problems of each kind (the rest counted), duplicates dropped."""
        kept, counts, seen = [], {}, set()
        for problem in self.problems:
            if (problem.kind, problem.detail, problem.notebook) in seen:
                continue
            seen.add((problem.kind, problem.detail, problem.notebook))
            counts[problem.kind] = counts.get(problem.kind, 0) + 1
            if counts[problem.kind] <= MAX_PROBLEMS_PER_KIND:
                kept.append(problem)
        kept += [Problem(kind, f"and {n - MAX_PROBLEMS_PER_KIND} more {kind} problem(s) in this submission")
                 for kind, n in counts.items() if n > MAX_PROBLEMS_PER_KIND]
        self.problems = kept
        return self

    def to_json(self):
        data = asdict(self)
        if not data["graded"]:                            # a result of `grade` reads as it always has
            del data["graded"]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text):
        """A Result from JSON written by a worker, every field checked (ValueError if anything is off)."""
        data = json.loads(text)
        _expect(data, dict, "a result")
        for name in ("student", "assignment", "key", "submitted"):
            _expect(data.get(name, ""), str, name)
        grades = [Grade(_text(g.get("notebook")), _text(g.get("grade_id")), _number(g.get("score")), _number(g.get("max_score")))
                  for g in _expect(data.get("grades", []), list, "grades") if _expect(g, dict, "a grade")]
        problems = [Problem(_text(p.get("kind")), _text(p.get("detail")), _text(p.get("notebook", "")))
                    for p in _expect(data.get("problems", []), list, "problems") if _expect(p, dict, "a problem")]
        failures = {_text(k): _text(v) for k, v in _expect(data.get("failures", {}), dict, "failures").items()}
        feedback = {_text(k): _text(v) for k, v in _expect(data.get("feedback", {}), dict, "feedback").items()}
        timing = {_text(k): _number(v) for k, v in _expect(data.get("timing", {}), dict, "timing").items()}
        graded = {_text(k): _text(v) for k, v in _expect(data.get("graded", {}), dict, "graded").items()}
        return cls(data["student"], data["assignment"], data["key"], grades, problems, failures,
                   data.get("submitted", ""), feedback, timing, graded)


def _expect(value, kind, what):
    if type(value) is not kind:
        raise ValueError(f"{what} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _text(value):
    return _expect(value, str, "a text field")


def _number(value):
    if type(value) not in (int, float) or value != value or abs(value) > 1e9:
        raise ValueError(f"expected a number, got {type(value).__name__}")
    return float(value)


@dataclass
class Observation:
    """What JudgedExecute saw in one cell: the verdict of a test cell (kind "verdict"), or a problem kind.

    verdict: {"passed", "message", "parts", "seconds", "requests"} for a verdict; detail: the problem's sentence.
    """
    notebook: str
    kind: str
    cell: str = ""
    detail: str = ""
    verdict: dict = None

    def problem(self):
        return Problem(self.kind, self.detail, self.notebook)

    def to_json(self):
        return json.dumps(asdict(self))


def read_observations(path):
    """Every Observation written to `path` (one JSON line each), in order."""
    if not Path(path).exists():
        return []
    return [Observation(**json.loads(line)) for line in Path(path).read_text().splitlines() if line.strip()]


@dataclass
class CourseFiles:
    """What every job of a grading run shares, sent once to each machine that grades.

    sources, releases: {assignment: {notebook id: notebook JSON text}} of the source (solutions,
    hidden tests) and the released notebooks; template_db: a SQLite gradebook file that knows every
    assignment (each job grades into a copy).
    """
    sources: dict
    releases: dict
    template_db: bytes

    @functools.cached_property
    def version(self):
        """A digest of the files: the folder name they are written to on each machine."""
        digest = hashlib.sha256(self.template_db)
        digest.update(json.dumps([self.sources, self.releases], sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def write(self, folder):
        """Write the files under folder/<version>/ (once: concurrent writers on one machine are safe); returns it.

        Layout: source/<assignment>/<notebook>.ipynb, release/<assignment>/<notebook>.ipynb, gradebook.db.
        Readable by the workers (another uid), writable by nobody else; `folder` itself should not
        be listable by other users of the machine (the hidden tests are in there).
        """
        target = Path(folder) / self.version
        if (target / "complete").is_file():
            return target
        Path(folder).mkdir(parents=True, exist_ok=True)
        for leftover in Path(folder).glob(".writing-*-*"):     # what a killed process was writing
            if not Path(f"/proc/{leftover.name.split('-')[1]}").exists():
                shutil.rmtree(leftover, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)            # a copy that was not finished
        scratch = Path(tempfile.mkdtemp(dir=folder, prefix=f".writing-{os.getpid()}-"))
        for kind, notebooks in (("source", self.sources), ("release", self.releases)):
            for assignment, files in notebooks.items():
                (scratch / kind / assignment).mkdir(parents=True)
                for nb_id, text in files.items():
                    (scratch / kind / assignment / f"{nb_id}.ipynb").write_text(text)
        (scratch / "gradebook.db").write_bytes(self.template_db)
        (scratch / "complete").write_text(self.version)
        for path in [scratch, *scratch.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        try:
            scratch.rename(target)
        except OSError:                                   # another process on this machine was faster
            shutil.rmtree(scratch, ignore_errors=True)
        return target
