"""Feedback pages that are safe to open: the student's content shown, never run.

nbgrader renders feedback as HTML. A submission controls the text of its own markdown cells and
every output of its code cells, so before rendering, `SafeFeedback` (an nbconvert preprocessor in
the GenerateFeedback chain, enabled by default):
- shows the student's markdown and raw cells as literal text (a code block: no HTML, no links,
  no images from elsewhere, no attachments); the instructor's locked cells render as written;
- keeps of each output only plain text, PNG and JPEG images, and HTML cleaned by bleach through
  nbconvert's SanitizeHTML (no scripts, event handlers or `javascript:` URLs); Javascript, SVG,
  markdown and every other kind are replaced by a note, and output metadata (which the HTML
  template turns into attributes) is dropped.
Test cells show only what the grader wrote into them (autograder.judge), already capped.
"""
import re

from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.utils import is_locked
from traitlets import Bool

SHOWN = {"text/plain", "image/png", "image/jpeg", "text/html"}


class SafeFeedback(SanitizeHTML):
    enabled = Bool(True, help="Sanitize every feedback page (on unless turned off explicitly).").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type in ("markdown", "raw"):
            if not is_locked(cell):
                cell.source = literal(cell.source)
                cell.attachments = {}
            return cell, resources
        for output in cell.get("outputs", []):
            if "data" in output:
                data = {k: v for k, v in output.data.items() if k in SHOWN}
                output.data = data or {"text/plain": "[an output that feedback pages do not show]"}
            if "metadata" in output:
                output.metadata = {}
        cell.outputs = self.sanitize_code_outputs(cell.get("outputs", []))
        return cell, resources


def literal(text):
    """Markdown that shows `text` exactly as typed: a fenced block longer than any run of ~ inside it."""
    fence = "~" * max(3, 1 + max((len(run) for run in re.findall(r"~+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"
