"""What moves along the grading pipeline, in one place.

A `Problem` is one thing worth telling the instructor about a submission: `kind` is a short slug
(the kinds are listed in autograder/README.md), `detail` says what happened in a sentence, and
`notebook` names the notebook when there is one. Every stage reports problems as these records,
and report.json lists them as their dicts. A detail may quote what a student chose (a file name,
a cell's id): control characters are removed when a Problem is made, so neither report.json nor a
terminal ever carries an escape sequence or a forged line break.
"""
import re
from dataclasses import asdict, dataclass

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
        return {"student": student, "assignment": assignment, **asdict(self)}
