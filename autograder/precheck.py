"""Checks on a submission before any of its code runs (trusted code, in the grader process).

- which notebooks are there: malformed JSON, missing or renamed notebooks;
- which locked cells were deleted or edited (nbgrader restores them from the source; we report it);
- what the student's code mentions: the rnncore reference, monkeypatching of numpy, builtins or
  the test helpers, introspection tricks and process-level escapes. These are flags for a
  human to look at; the points themselves are decided at run time by autograder.testing.
"""
import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.utils import compute_checksum

from . import course

# module names whose attributes a submission must not replace
PROTECTED_MODULES = {"np", "numpy", "builtins", "sys", "autograder", "testing", "math", "os"}
SUSPICIOUS_NAMES = {
    "importlib": "imports modules by name",
    "__import__": "imports modules by name",
    "builtins": "touches builtins",
    "__builtins__": "touches builtins",
    "gc": "walks the garbage collector",
    "ctypes": "uses ctypes",
    "setprofile": "replaces the profiler hook",
    "settrace": "replaces the trace hook",
    "_exit": "kills the kernel",
    "subprocess": "starts processes",
    "socket": "opens sockets",
    "fork": "forks processes",
    "rmtree": "deletes folders",
}
SUSPICIOUS_ATTRS = {"__code__": "copies or swaps a code object", "__globals__": "reaches into globals",
                    "modules": "reads sys.modules", "__dict__": "reaches into a namespace"}


@dataclass
class Problem:
    """One thing worth telling the instructor about a submission."""
    kind: str
    detail: str
    notebook: str = ""

    def as_dict(self, student, assignment):
        return {"student": student, "assignment": assignment, "notebook": self.notebook,
                "kind": self.kind, "detail": self.detail}


def read_notebook(path):
    """(notebook, None) or (None, reason) for a file that is not a valid notebook."""
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as exc:
        return None, f"not valid JSON ({type(exc).__name__}: {str(exc)[:120]})"
    except nbformat.ValidationError as exc:
        return None, f"not a valid notebook ({str(exc).splitlines()[0][:120]})"
    except Exception as exc:                                  # anything else unreadable
        return None, f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"
    return nb, None


def _grade_ids(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}


def match_notebooks(assignment, files):
    """Pair the expected notebooks with the submitted files.

    files: paths of the submitted .ipynb files. Returns ({notebook_id: path}, [Problem]).
    A notebook under another name is used when its graded cells identify it (reported as renamed).
    """
    problems, found, loaded = [], {}, {}
    for path in files:
        nb, reason = read_notebook(path)
        if nb is None:
            problems.append(Problem("malformed-notebook", f"{Path(path).name}: {reason}", Path(path).stem))
        else:
            loaded[Path(path)] = nb
    expected = course.source_notebooks(assignment)
    for nb_id in expected:
        exact = [p for p in loaded if p.stem == nb_id]
        if exact:
            found[nb_id] = exact[0]
    for nb_id, source_path in expected.items():
        if nb_id in found or any(p.notebook == nb_id for p in problems):
            continue
        source_ids = _grade_ids(nbformat.read(str(source_path), as_version=4))
        candidates = [p for p in loaded if p not in found.values() and _grade_ids(loaded[p]) & source_ids]
        if len(candidates) == 1:
            found[nb_id] = candidates[0]
            problems.append(Problem("renamed-notebook", f"{candidates[0].name} is graded as {nb_id}.ipynb", nb_id))
        else:
            problems.append(Problem("missing-notebook", f"{nb_id}.ipynb was not submitted; it scores 0", nb_id))
    for path in loaded:
        if path not in found.values():
            problems.append(Problem("unexpected-notebook", f"{path.name} is not part of {assignment}; ignored"))
    return found, problems


def locked_cell_changes(submission, release, notebook_id):
    """Problems for locked cells of the released notebook that the submission deleted or edited."""
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in submission.cells}
    problems = []
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("locked"):
            continue
        grade_id = meta["grade_id"]
        kind = "test cell" if meta.get("grade") else "locked cell"
        if grade_id not in by_id:
            problems.append(Problem(f"deleted-{kind.replace(' ', '-')}",
                                    f"{grade_id} was deleted; restored from the source", notebook_id))
        elif compute_checksum(by_id[grade_id]) != meta.get("checksum", compute_checksum(cell)):
            problems.append(Problem(f"edited-{kind.replace(' ', '-')}",
                                    f"{grade_id} was edited; restored from the source", notebook_id))
    return problems


def _code(cell):
    """Cell source with IPython magics and shell escapes blanked (they are not Python)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())


def scan_student_code(nb, notebook_id):
    """Flags for what the editable cells of a submission mention (see module docstring)."""
    flags = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked"):
            continue
        where = meta.get("grade_id") or "an added cell"
        try:
            tree = ast.parse(_code(cell))
        except SyntaxError as exc:
            flags.append(Problem("syntax-error", f"{where}: line {exc.lineno}: {exc.msg}", notebook_id))
            continue
        for node in ast.walk(tree):
            for message in _node_flags(node):
                flags.append(Problem("suspected-cheating", f"{where}, line {getattr(node, 'lineno', '?')}: {message}",
                                     notebook_id))
    return flags


def _node_flags(node):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            root = name.split(".")[0]
            if root == "rnncore":
                yield "imports the rnncore reference"
            elif root in SUSPICIOUS_NAMES:
                yield f"imports {root} ({SUSPICIOUS_NAMES[root]})"
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"rnn\W*core", node.value):
        yield "names the rnncore reference in a string"
    elif isinstance(node, ast.Name) and node.id in SUSPICIOUS_NAMES:
        yield f"uses {node.id} ({SUSPICIOUS_NAMES[node.id]})"
    elif isinstance(node, ast.Attribute):
        if node.attr in SUSPICIOUS_ATTRS:
            yield f"uses .{node.attr} ({SUSPICIOUS_ATTRS[node.attr]})"
        elif node.attr in SUSPICIOUS_NAMES:
            yield f"uses .{node.attr} ({SUSPICIOUS_NAMES[node.attr]})"
        if isinstance(node.ctx, (ast.Store, ast.Del)) and _root_name(node) in PROTECTED_MODULES:
            yield f"replaces {ast.unparse(node)} (monkeypatching)"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
        if node.args and _root_name(node.args[0]) in PROTECTED_MODULES:
            yield f"calls {node.func.id} on {ast.unparse(node.args[0])} (monkeypatching)"


def _root_name(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
