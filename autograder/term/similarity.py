"""python -m autograder similarity SUBMISSIONS: pairs of submissions whose solution cells are unusually similar,
and submissions similar to rnncore or to the reference solutions.

Only the students' solution cells are compared: the cells whose grade_id is a solution cell of the source
notebook (solutions/<assignment>/, nbgrader.utils.is_solution). Everything the release already holds (the
signature, the docstring, given code, `# YOUR CODE HERE`) is boilerplate: its fingerprints are removed
before comparing, so two untouched notebooks share nothing. The fingerprints are copydetect's (winnowing
over Pygments tokens with every identifier replaced by one letter and comments dropped), so renamed
variables, changed comments and reordered functions do not hide a copy.

Per assignment, each submission is one document (its solution cells in notebook order). A pair is
reported when the larger of its two similarities (the share of one document's fingerprinted code found
in the other) reaches `threshold` and at least `min_overlap` tokens match. A submission is reported
against a reference (a module of rnncore, the assignment's reference solution) when that share of its code
is found there. Output: OUT/similarity.json and OUT/similarity.html (matching regions side by side).
The report is evidence for a conversation with a person, never a grade: see docs/instructor-guide.md.
"""
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from nbgrader.utils import is_solution

from ..course import Course

NOISE = 25                    # k: the shortest match (filtered characters) that counts
GUARANTEE = 30                # every match at least this long is found (window = GUARANTEE - NOISE + 1)
THRESHOLD = 0.5
MIN_OVERLAP = 80              # filtered characters in common, below which a pair is never reported
SHOW = 60                     # side-by-side views per assignment in the HTML report


class SimilarityError(ValueError):
    """The input cannot be compared; the message says what and how to fix it."""


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


@dataclass
class Document:
    """The solution code of one submission (or a reference), as one text with its fingerprint."""
    name: str                                   # a student id, or "rnncore/lstm.py", "solution"
    assignment: str
    text: str
    fingerprint: object = None
    cells: list = field(default_factory=list)


def solution_ids(assignment, course=None):
    """{notebook id: [grade_id of each solution cell, in order]} of the source notebooks."""
    course = course or Course.here()
    found = {}
    for nb_id, path in course.source_notebooks(assignment).items():
        nb = nbformat.read(str(path), as_version=4)
        found[nb_id] = [_grade_id(c) for c in nb.cells if is_solution(c) and c.cell_type == "code" and _grade_id(c)]
    return found


def _code(cells_by_id, ids):
    """One text from the cells with these grade_ids, each under a comment naming it (comments are not compared)."""
    parts = [f"# --- {gid} ---\n{cells_by_id[gid].rstrip()}\n" for gid in ids if cells_by_id.get(gid, "").strip()]
    return "\n".join(parts)


def _cells(nb):
    cells = {}
    for c in nb.cells:
        gid = _grade_id(c)
        if c.cell_type == "code" and gid and gid not in cells:
            cells[gid] = c.source
    return cells


def starter_text(assignment, course=None):
    """The release's solution cells: what every student starts from (boilerplate)."""
    course = course or Course.here()
    texts = []
    for nb_id, ids in solution_ids(assignment, course).items():
        path = course.assignments / assignment / f"{nb_id}.ipynb"
        if path.exists():
            texts.append(_code(_cells(nbformat.read(str(path), as_version=4)), ids))
    return "\n".join(texts)


def reference_solution_text(assignment, course=None):
    """The instructor's solution cells (solutions/), with the nbgrader markers."""
    course = course or Course.here()
    texts = []
    for nb_id, ids in solution_ids(assignment, course).items():
        texts.append(_code(_cells(nbformat.read(str(course.source_notebooks(assignment)[nb_id]), as_version=4)), ids))
    return "\n".join(texts)


def rnncore_text():
    """The reference package the student edition ships, as one text (each module under a comment naming it):
    a submission's share found in it counts matches in every module together."""
    import rnncore
    root = Path(rnncore.__file__).resolve().parent
    return "\n".join(f"# --- rnncore/{p.name} ---\n{p.read_text()}" for p in sorted(root.glob("*.py"))
                     if p.name != "__init__.py")


def find_submissions(source, course=None):
    """{(student, assignment): [notebook paths]} of a folder in nbgrader's layout (<student>/<assignment>/*.ipynb),
    or of a grading output folder (the notebooks `grade` collected, in its staging/ folder)."""
    source = Path(source)
    if not source.is_dir():
        raise SimilarityError(f"{source}: not a folder; give a folder <student>/<assignment>/<notebook>.ipynb "
                              "(unzip an archive, or grade it first and give the grading output folder)")
    if (source / "staging").is_dir() and (source / "grades.csv").exists():
        source = source / "staging"
    known = set((course or Course.here()).assignment_ids)
    found = {}
    for path in sorted(source.glob("*/*/*.ipynb")):
        student, assignment = path.parent.parent.name, path.parent.name
        if assignment in known:
            found.setdefault((student, assignment), []).append(path)
    if not found:
        raise SimilarityError(f"{source}: no notebooks of the course's assignments as <student>/<assignment>/"
                              f"<notebook>.ipynb (assignments: {', '.join(sorted(known))})")
    return found


def submission_text(assignment, paths, ids=None):
    """The solution code of one submission ('' if its notebooks cannot be read or hold no solution cell)."""
    ids = ids or solution_ids(assignment)
    by_name = {Path(p).stem: p for p in paths}
    texts = []
    for nb_id, cell_ids in ids.items():
        path = by_name.get(nb_id) or (paths[0] if len(paths) == 1 else None)   # a renamed lone notebook still counts
        if path is None:
            continue
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:                                   # malformed JSON: the grader reports it
            continue
        texts.append(_code(_cells(nb), cell_ids))
    return "\n".join(texts)


def _fingerprint(name, text, boilerplate, noise, guarantee):
    from copydetect import CodeFingerprint
    import io
    return CodeFingerprint(f"{name}.py", noise, guarantee - noise + 1, boilerplate=boilerplate,
                           fp=io.StringIO(text), language="python")


def _boilerplate(text, noise):
    """Every k-gram hash of the starter text (window 1: none of them is left out by winnowing)."""
    if not text.strip():
        return np.array([], dtype=np.int64)
    fp = _fingerprint("starter", text, None, noise, noise)
    return np.array(sorted(fp.hashes))


def compare(a, b):
    """(similarity of a, similarity of b, tokens in common, slices in a, slices in b) of two Documents."""
    from copydetect import compare_files
    if not a.fingerprint.hashes or not b.fingerprint.hashes or not (a.fingerprint.hashes & b.fingerprint.hashes):
        return 0.0, 0.0, 0, None, None
    overlap, (sa, sb), (slices_a, slices_b) = compare_files(a.fingerprint, b.fingerprint)
    return float(sa), float(sb), int(overlap), slices_a, slices_b


@dataclass
class Match:
    assignment: str
    first: str
    second: str                              # a student, or a reference ("rnncore/lstm.py", "solution")
    first_similarity: float
    second_similarity: float
    tokens: int
    first_view: str = ""                     # HTML of the first document with the matching regions marked
    second_view: str = ""

    @property
    def score(self):
        return max(self.first_similarity, self.second_similarity)

    def as_dict(self):
        return {"assignment": self.assignment, "first": self.first, "second": self.second,
                "first_similarity": round(self.first_similarity, 4), "second_similarity": round(self.second_similarity, 4),
                "tokens": self.tokens}


def _view(doc, slices, context=-1):
    """The document's text, HTML-escaped, with the matching regions in <mark>; context >= 0: only the marked lines,
    that many lines around them and the `# --- name ---` line of each part shown (the rest is "...")."""
    from copydetect.utils import highlight_overlap
    if slices is None or slices.shape[1] == 0:
        return html.escape(doc.text)
    marked, _ = highlight_overlap(doc.text, slices, "<mark>", "</mark>", escape_html=True)
    return marked if context < 0 else _truncate(marked, context)


def _truncate(marked, context):
    lines = marked.split("\n")
    inside, hot = False, []
    for line in lines:
        hot.append(inside or "<mark>" in line)
        opened, closed = line.rfind("<mark>"), line.rfind("</mark>")
        inside = opened > closed if opened >= 0 or closed >= 0 else inside
    keep = [any(hot[max(0, i - context):i + context + 1]) for i in range(len(lines))]
    header, shown, out = None, None, []
    for i, line in enumerate(lines):
        if line.startswith("# --- "):
            header = line
        if keep[i]:
            if header is not None and header != shown and not line.startswith("# --- "):
                out += ["...", header]
            shown = header
            if out and out[-1] != "..." and i > 0 and not keep[i - 1]:
                out.append("...")
            out.append(line)
    return "\n".join(out)


@dataclass
class SimilarityReport:
    pairs: list                               # [Match] between students, best first
    references: list                          # [Match] of a student against rnncore or the reference solution
    documents: dict                           # {assignment: number of submissions compared}
    empty: dict                               # {assignment: [students whose solution cells hold only starter code]}
    settings: dict

    def clusters(self, assignment):
        """Groups of students linked by reported pairs (connected components), largest first."""
        parent = {}

        def root(x):
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x
        for m in self.pairs:
            if m.assignment == assignment:
                parent[root(m.first)] = root(m.second)
        groups = {}
        for x in list(parent):
            groups.setdefault(root(x), []).append(x)
        return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


def check(source, assignments=None, threshold=THRESHOLD, min_overlap=MIN_OVERLAP, noise=NOISE, guarantee=GUARANTEE,
          references=True, reference_threshold=None, course=None):
    """Compare every pair of submissions of each assignment, and each submission with rnncore and the reference
    solution; returns a SimilarityReport (pairs and reference matches at or above the threshold).
    course: the course whose solution cells are compared (default: this repository's)."""
    course = course or Course.here()
    if not 0 < threshold <= 1:
        raise SimilarityError(f"--threshold {threshold} must be a share in (0, 1], e.g. 0.5")
    reference_threshold = threshold if reference_threshold is None else reference_threshold
    if guarantee < noise:
        raise SimilarityError(f"the guarantee length ({guarantee}) must be at least the noise length ({noise})")
    found = find_submissions(source, course)
    wanted = sorted({a for _, a in found} if assignments is None else set(assignments))
    core = rnncore_text() if references else ""
    pairs, matches, counts, empty = [], [], {}, {}
    for assignment in wanted:
        ids = solution_ids(assignment, course)
        boilerplate = _boilerplate(starter_text(assignment, course), noise)
        docs = []
        for (student, a), paths in sorted(found.items()):
            if a != assignment:
                continue
            doc = Document(student, assignment, submission_text(assignment, paths, ids))
            doc.fingerprint = _fingerprint(student, doc.text, boilerplate, noise, guarantee)
            (docs if doc.fingerprint.hashes else empty.setdefault(assignment, [])).append(
                doc if doc.fingerprint.hashes else student)
        counts[assignment] = len(docs) + len(empty.get(assignment, []))
        for i, a in enumerate(docs):
            for b in docs[i + 1:]:
                sa, sb, tokens, slices_a, slices_b = compare(a, b)
                if max(sa, sb) >= threshold and tokens >= min_overlap:
                    pairs.append(Match(assignment, a.name, b.name, sa, sb, tokens, _view(a, slices_a), _view(b, slices_b)))
        if references:
            refs = [Document("solution", assignment, reference_solution_text(assignment, course)),
                    Document("rnncore", assignment, core)]
            for ref in refs:
                ref.fingerprint = _fingerprint(ref.name, ref.text, boilerplate, noise, guarantee)
            for doc in docs:
                for ref in refs:
                    sa, sb, tokens, slices_a, slices_b = compare(doc, ref)
                    if sa >= reference_threshold and tokens >= min_overlap:
                        matches.append(Match(assignment, doc.name, ref.name, sa, sb, tokens, _view(doc, slices_a),
                                             _view(ref, slices_b, context=2)))
    pairs.sort(key=lambda m: (m.assignment, -m.score, m.first, m.second))
    matches.sort(key=lambda m: (m.assignment, -m.first_similarity, m.first, m.second))
    settings = {"threshold": threshold, "min_overlap": min_overlap, "noise": noise, "guarantee": guarantee}
    return SimilarityReport(pairs, matches, counts, empty, settings)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 90em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
td.num { text-align: right; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.side pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 0.8em; max-height: 40em; }
mark { background: #ffd54f; }
details { margin: 0.5em 0; }
"""


def _side_by_side(m):
    e = html.escape
    return (f"<details><summary><strong>{e(m.first)}</strong> ({m.first_similarity:.0%}) and <strong>{e(m.second)}"
            f"</strong> ({m.second_similarity:.0%}), {m.tokens} tokens in common</summary><div class=side>"
            f"<div><h4>{e(m.first)}</h4><pre>{m.first_view}</pre></div>"
            f"<div><h4>{e(m.second)}</h4><pre>{m.second_view}</pre></div></div></details>")


def render_html(report):
    e = html.escape
    s = report.settings
    parts = [f"<h1>Similar submissions</h1><p>Solution cells only, the starter code removed; copydetect fingerprints "
             f"(k = {s['noise']}, window {s['guarantee'] - s['noise'] + 1}). Reported: a pair where at least "
             f"{s['threshold']:.0%} of one submission's code is found in the other (and at least {s['min_overlap']} "
             "tokens), and a submission with that share of its code in a module of rnncore or in the reference "
             "solution. This is a list of things for a person to read, not a verdict.</p>"]
    for assignment, n in report.documents.items():
        pairs = [m for m in report.pairs if m.assignment == assignment]
        refs = [m for m in report.references if m.assignment == assignment]
        parts.append(f"<h2><code>{e(assignment)}</code></h2><p>{n} submissions; {len(pairs)} similar pair(s); "
                     f"{len({m.first for m in refs})} submission(s) similar to a reference; "
                     f"{len(report.empty.get(assignment, []))} with no code of their own.</p>")
        clusters = report.clusters(assignment)
        if clusters:
            parts.append("<h3>Groups</h3><ul>" + "".join(
                f"<li>{len(g)} submissions: {e(', '.join(g))}</li>" for g in clusters[:30]) + "</ul>")
        if pairs:
            parts.append("<h3>Pairs</h3><table><tr><th>first</th><th>second</th><th class=num>share of first</th>"
                         "<th class=num>share of second</th><th class=num>tokens</th></tr>" + "".join(
                             f"<tr><td>{e(m.first)}</td><td>{e(m.second)}</td><td class=num>{m.first_similarity:.0%}</td>"
                             f"<td class=num>{m.second_similarity:.0%}</td><td class=num>{m.tokens}</td></tr>"
                             for m in pairs) + "</table>")
            parts += [_side_by_side(m) for m in pairs[:SHOW]]
        if refs:
            parts.append("<h3>Similar to a reference</h3><table><tr><th>submission</th><th>reference</th>"
                         "<th class=num>share of the submission</th><th class=num>tokens</th></tr>" + "".join(
                             f"<tr><td>{e(m.first)}</td><td>{e(m.second)}</td><td class=num>{m.first_similarity:.0%}"
                             f"</td><td class=num>{m.tokens}</td></tr>" for m in refs) + "</table>")
            parts += [_side_by_side(m) for m in refs[:SHOW]]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Similar submissions</title>'
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def write(report, out):
    """OUT/similarity.json and OUT/similarity.html; returns the HTML's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = {"settings": report.settings, "documents": report.documents, "empty": report.empty,
            "pairs": [m.as_dict() for m in report.pairs], "references": [m.as_dict() for m in report.references],
            "clusters": {a: report.clusters(a) for a in report.documents}}
    (out / "similarity.json").write_text(json.dumps(data, indent=1, ensure_ascii=False))
    (out / "similarity.html").write_text(render_html(report), encoding="utf-8")
    return out / "similarity.html"
