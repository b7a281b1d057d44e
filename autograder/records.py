"""What moves along the grading pipeline, in one place.

    Problem  one thing worth telling the instructor about a submission
    Grade    the score of one graded cell
    Job      one submission to grade: everything a worker needs, on any machine
    Result   what grading one submission gave: its grades, problems and feedback
    CourseFiles  what every job of a run shares: the course's notebooks and template gradebook

A `Problem`'s `kind` is a short slug (the kinds are listed in autograder/README.md), `detail` says
what happened in a sentence, `notebook` names the notebook when there is one. A detail may quote
what a student chose (a file name, a cell's id): control characters are removed when a Problem is
made, so neither report.json nor a terminal ever carries an escape sequence or a forged line break.

Jobs and results cross process and machine boundaries as JSON (`to_json` / `from_json`), never as
pickles, and carry file contents rather than paths: a worker needs no shared file system.
"""
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")   # C0 (newlines too), DEL, C1, bidi overrides


def plain_text(text, limit=2000):
    """`text` with control characters replaced by spaces, at most `limit` characters."""
    text = CONTROL.sub(" ", str(text))
    return text if len(text) <= limit else text[:limit] + "…"


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

    notebooks: {notebook id: the submitted notebook's JSON text}; key: a digest of everything that
    decides the grade (the cache key of incremental runs); prechecks: what was found before running.
    """
    student: str
    assignment: str
    key: str
    notebooks: dict
    timeout: int                         # seconds per cell
    wall_timeout: int                    # seconds for the whole job (a ceiling the per-cell limits reach first)
    limits: dict                         # sandbox.Limits as a dict
    prechecks: list = field(default_factory=list)     # [Problem]
    hide: list = field(default_factory=list)          # paths a kernel must not see, besides the sandbox's own

    @property
    def name(self):
        return f"{self.student}/{self.assignment}"

    def to_json(self):
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        data["prechecks"] = [Problem(**p) for p in data["prechecks"]]
        return cls(**data)


@dataclass
class Result:
    """What grading one submission gave.

    grades: every graded cell (a missing one counts 0); problems: everything found, the prechecks
    included; feedback: {notebook id: HTML}; timing: where the grading time went.
    """
    student: str
    assignment: str
    key: str
    grades: list = field(default_factory=list)        # [Grade]
    problems: list = field(default_factory=list)      # [Problem]
    feedback: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    @classmethod
    def failed(cls, job, detail):
        """A grader-error result: 0 points, recorded for review (a grade is never lost silently)."""
        return cls(job.student, job.assignment, job.key, problems=[*job.prechecks, Problem("grader-error", detail)])

    @property
    def grader_error(self):
        return any(p.kind == "grader-error" for p in self.problems)

    def to_json(self):
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        data["grades"] = [Grade(**g) for g in data["grades"]]
        data["problems"] = [Problem(**p) for p in data["problems"]]
        return cls(**data)


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
        """
        target = Path(folder) / self.version
        if target.is_dir():
            return target
        Path(folder).mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=folder, prefix=".writing-"))
        for kind, notebooks in (("source", self.sources), ("release", self.releases)):
            for assignment, files in notebooks.items():
                (scratch / kind / assignment).mkdir(parents=True)
                for nb_id, text in files.items():
                    (scratch / kind / assignment / f"{nb_id}.ipynb").write_text(text)
        (scratch / "gradebook.db").write_bytes(self.template_db)
        os.chmod(scratch, 0o700)                          # hidden tests: for the grader's eyes only
        try:
            scratch.rename(target)
        except OSError:                                   # another process on this machine was faster
            shutil.rmtree(scratch, ignore_errors=True)
        return target
