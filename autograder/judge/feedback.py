"""Feedback pages that are safe to open and render in milliseconds: the student's content shown, never run.

nbgrader renders feedback as HTML. A submission controls the text of its own markdown cells and
every output of its code cells, so before rendering, `SafeFeedback`:
- shows the student's markdown and raw cells as literal text (a code block: no HTML, no links,
  no images from elsewhere, no attachments); the instructor's locked cells render as written, their
  formulas turned into MathML here (`math_to_mathml`), so the page needs no MathJax and no network;
- keeps of each output only plain text, PNG and JPEG images, and HTML cleaned by nh3 (Ammonia)
  with the allowlist nbconvert's SanitizeHTML uses (no scripts, event handlers or `javascript:`
  URLs); Javascript, SVG, markdown and every other kind are replaced by a note, and output metadata
  (which the HTML template turns into attributes) is dropped.
Test cells show only what the grader wrote into them (autograder.judge.verdict), already capped.

`render` makes the pages of one submission with an exporter made once per process (a worker
inherits the server's), the course's template (`feedback_template/`: nbgrader's feedback page in
Russian, every graded cell named, no script at all), and nbgrader's own GetGrades and
ClearHiddenTests preprocessors.
"""
import functools
import re
from pathlib import Path

import nh3
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from nbgrader.utils import is_locked
from traitlets import Bool

SHOWN = {"text/plain", "image/png", "image/jpeg", "text/html"}
# nbconvert's SanitizeHTML allowlist (bleach's defaults), which nh3 applies the same way
TAGS = {"a", "abbr", "acronym", "b", "blockquote", "code", "em", "i", "li", "ol", "strong", "ul"}
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "acronym": {"title"}}
URL_SCHEMES = {"http", "https", "mailto"}
TEMPLATE = Path(__file__).resolve().parent / "feedback_template"
MATH = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$", re.S)


def clean_html(html):
    """HTML with everything but the allowlist removed (nh3: Ammonia's sanitizer)."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, strip_comments=True,
                     link_rel="noopener noreferrer")


@functools.lru_cache(maxsize=4096)
def math_to_mathml(markdown):
    """The instructor's markdown with $...$ and $$...$$ as MathML (what a formula the converter cannot read
    stays as written). Code spans and blocks are left alone."""
    from latex2mathml.converter import convert
    parts = re.split(r"(```.*?```|`[^`\n]*`)", markdown, flags=re.S)

    def one(match):
        display, inline = match.group(1), match.group(2)
        try:
            return convert((display or inline).strip(), display="block" if display else "inline")
        except Exception:                                    # latex2mathml's errors are many
            return match.group(0)
    return "".join(part if k % 2 else MATH.sub(one, part) for k, part in enumerate(parts))


class SafeFeedback(Preprocessor):
    enabled = Bool(True, help="Sanitize every feedback page (on unless turned off explicitly).").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type in ("markdown", "raw"):
            if not is_locked(cell):
                cell.source = literal(cell.source)
                cell.attachments = {}
            elif cell.cell_type == "markdown":
                cell.source = math_to_mathml(cell.source)
            return cell, resources
        for output in cell.get("outputs", []):
            if "data" in output:
                data = {k: v for k, v in output.data.items() if k in SHOWN}
                if "text/html" in data:
                    data["text/html"] = clean_html(str(data["text/html"]))
                output.data = data or {"text/plain": "[an output that feedback pages do not show]"}
            if "metadata" in output:
                output.metadata = {}
        return cell, resources


def literal(text):
    """Markdown that shows `text` exactly as typed: a fenced block longer than any run of ~ inside it."""
    fence = "~" * max(3, 1 + max((len(run) for run in re.findall(r"~+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, minus the pass it makes over every page it renders with BeautifulSoup (alternative
    texts and tabindex attributes for JupyterLab-like pages: two thirds of a feedback page's time), and with the
    markdown and the highlighted code of a source rendered once: every page of an assignment repeats the release's
    cells, which the server renders before it forks the workers (`warm_up`)."""

    def from_notebook_node(self, nb, resources=None, **kw):
        lexer = nb.metadata.get("language_info", {}).get("pygments_lexer", "ipython3")
        self.register_filter("highlight_code", _cached(Highlight2HTML(pygments_lexer=lexer, parent=self)))
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata={}, parent=self,
                                                                        resources=resources))
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    _markdown = {}                           # source -> HTML, for cells without attachments

    @pass_context
    def markdown2html(self, context, source):
        if context.get("cell", {}).get("attachments") or len(self._markdown) > 4096:
            return super().markdown2html(context, source)
        if source not in self._markdown:
            self._markdown[source] = super().markdown2html(context, source)
        return self._markdown[source]


def _cached(highlight):
    @functools.lru_cache(maxsize=4096)
    def cached(source, language=None, metadata=None):
        return highlight(source, language)

    def call(source, language=None, metadata=None):
        return cached(source, language)
    return call


@functools.cache
def exporter():
    """The HTML exporter of feedback pages, made once per process (loading templates takes most of a second)."""
    import nbgrader
    from traitlets.config import Config
    nbgrader_static = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    c = Config()
    c.HTMLExporter.template_name = TEMPLATE.name
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATE.parent)]
    c.HTMLExporter.extra_template_paths = [str(nbgrader_static / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    made = FeedbackExporter(config=c)
    made.register_preprocessor(CSSHTMLHeaderPreprocessor(config=c), enabled=True)
    return made


def prepare(nb, resources, grades=True):
    """The notebook as its feedback page shows it: grades from the gradebook (nbgrader's GetGrades), hidden tests
    cleared (nbgrader's ClearHiddenTests), the student's content made safe (SafeFeedback)."""
    steps = ([GetGrades()] if grades else []) + [ClearHiddenTests(), SafeFeedback()]
    for step in steps:
        nb, resources = step.preprocess(nb, resources)
    return nb, resources


def warm_up(release_dir):
    """Render the released notebooks once (with no grades), so that templates, markdown and highlighted code are in
    this process's caches before it forks workers."""
    import nbformat
    for path in sorted(Path(release_dir).glob("*/*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if "nbgrader" in cell.metadata:
                cell.metadata.nbgrader.update(score=0.0, points=cell.metadata.nbgrader.get("points", 0.0))
        resources = {"nbgrader": {"notebook": path.stem, "score": 0.0, "max_score": 0.0, "late_penalty": 0.0},
                     "unique_key": path.stem, "metadata": {"name": path.stem}}
        exporter().from_notebook_node(*prepare(nb, resources, grades=False))


def made_safe(nb):
    """The notebook with the student's content made safe to show (SafeFeedback), for a page that another program
    renders: Formgrader's Manual Grading and nbgrader's own feedback show the notebooks the worker returns."""
    return SafeFeedback().preprocess(nb, {})[0]


def render(notebooks, db_url, assignment, student):
    """{notebook id: feedback HTML} for the autograded notebooks {notebook id: NotebookNode} of one submission."""
    pages = {}
    for nb_id, nb in notebooks.items():
        resources = {"nbgrader": {"student": student, "assignment": assignment, "notebook": nb_id, "db_url": db_url},
                     "unique_key": nb_id, "metadata": {"name": nb_id}}
        pages[nb_id], _ = exporter().from_notebook_node(*prepare(nb, resources))
    return pages
