"""Checks on a submission before any of its code runs (trusted code, in the grader process).

- which notebooks are there: malformed JSON, missing or renamed notebooks;
- (what restoring the notebook from the release changes is reported by autograder.intake.restore);
- what the student's code mentions: the rnncore reference, code run from strings (exec, eval,
  compile), the IPython shell, monkeypatching, introspection tricks and process-level escapes.
  Every cell the student may edit is scanned (decided by the release, not by the submission's own
  metadata), magics and shell escapes included (IPython's own transformer turns them into Python
  first). These are flags for a human to look at; the points are decided by the grader
  (autograder.judge.verdict), which the student's code cannot reach.

Notebooks are read with limits: a file larger than MAX_NOTEBOOK_BYTES or with more than MAX_CELLS
cells is refused before nbformat parses it.
"""
import ast
import json
import re
import warnings
from pathlib import Path

import nbformat
from nbgrader.utils import is_locked, is_solution

from ..records import Problem
from .restore import grade_id

MAX_NOTEBOOK_BYTES = 16 * 2 ** 20
MAX_CELLS = 2000
MAX_FLAGS = 200                           # flags of one notebook: the scan stops there
# magics that only time or display: not worth a flag
HARMLESS_MAGICS = {"matplotlib", "time", "timeit", "precision", "pprint", "config", "who", "whos", "autosave"}

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
    "exec": "runs code from a string",
    "eval": "runs code from a string",
    "compile": "compiles code from a string",
    "get_ipython": "reaches into the IPython shell (magics, hooks, transformers)",
    "input": "reads from the grader's channel",
    "globals": "reaches into the notebook's namespace",
    "vars": "reaches into a namespace",
    "locals": "reaches into a namespace",
}
SUSPICIOUS_ATTRS = {"__code__": "copies or swaps a code object", "__globals__": "reaches into globals",
                    "modules": "reads sys.modules", "__dict__": "reaches into a namespace"}


def parse_notebook(data):
    """(notebook, None) or (None, reason) for a notebook's bytes (or text), read with limits."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        return None, f"too large ({len(data)} bytes; at most {MAX_NOTEBOOK_BYTES} are read)"
    try:
        data = json.loads(data)
        if type(data) is not dict or type(data.get("cells")) is not list:
            return None, "not a notebook (no list of cells)"
        if len(data["cells"]) > MAX_CELLS:
            return None, f"too many cells ({len(data['cells'])}; at most {MAX_CELLS})"
        if data.get("nbformat") == 4:
            nb = nbformat.v4.nbjson.to_notebook(data)         # what nbformat.reads does after json.loads
        else:
            nb = nbformat.convert(nbformat.reader.versions[data.get("nbformat")].nbjson.to_notebook(data), 4)
        with warnings.catch_warnings():                       # nbformat's notes on ids it fixed: not problems
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
        for cell in nb.cells:                                 # metadata the grader reads must have its type
            nbgrader = cell.get("metadata", {}).get("nbgrader")
            if nbgrader is not None and not (isinstance(nbgrader, dict) and isinstance(nbgrader.get("grade_id", ""), str)):
                cell.metadata.pop("nbgrader")
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError, RecursionError) as exc:
        return None, f"not valid JSON ({type(exc).__name__}: {str(exc)[:120]})"
    except nbformat.ValidationError as exc:
        return None, f"not a valid notebook ({str(exc).splitlines()[0][:120]})"
    except Exception as exc:                                  # anything else unreadable
        return None, f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"
    return nb, None


def read_notebook(path):
    """(notebook, None) or (None, reason) for a file that is not a valid notebook (or too large to read)."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return None, f"too large ({size} bytes; at most {MAX_NOTEBOOK_BYTES} are read)"
        return parse_notebook(Path(path).read_bytes())
    except OSError as exc:
        return None, f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"


def _grade_ids(nb):
    return {grade_id(c) for c in nb.cells} - {None}


def match_notebooks(assignment, sources, parsed):
    """Pair the expected notebooks with the submitted files.

    sources: {notebook id: source notebook}; parsed: {file name: (notebook, None) or (None, reason)}.
    Returns ({notebook id: notebook}, [Problem]). A notebook under another name is used when its
    graded cells identify it (reported as renamed); two files for one notebook are both reported.
    """
    problems, found, loaded = [], {}, {}
    for name, (nb, reason) in parsed.items():
        if nb is None:
            problems.append(Problem("malformed-notebook", f"{name}: {reason}", Path(name).stem))
        else:
            loaded[name] = nb
    for nb_id in sources:
        exact = sorted(name for name in loaded if Path(name).stem == nb_id or Path(name).stem.startswith(f"{nb_id}~"))
        if exact:
            found[nb_id] = exact[0]
            if len(exact) > 1:
                problems.append(Problem("duplicate-submission", f"{len(exact)} files for {nb_id}.ipynb ({', '.join(exact)}); "
                                                                f"{exact[0]} is graded", nb_id))
    for nb_id, source in sources.items():
        if nb_id in found or any(p.notebook == nb_id for p in problems):
            continue
        candidates = [n for n in loaded if n not in found.values() and _grade_ids(loaded[n]) & _grade_ids(source)]
        if len(candidates) == 1:
            found[nb_id] = candidates[0]
            problems.append(Problem("renamed-notebook", f"{candidates[0]} is graded as {nb_id}.ipynb", nb_id))
        else:
            problems.append(Problem("missing-notebook", f"{nb_id}.ipynb was not submitted; it scores 0", nb_id))
    for name in loaded:
        if name not in found.values() and not any(Path(name).stem.startswith(f"{i}~") for i in found):
            problems.append(Problem("unexpected-notebook", f"{name} is not part of {assignment}; ignored"))
    return {nb_id: loaded[name] for nb_id, name in found.items()}, problems


def parse_timestamp(text):
    """(ISO 8601 time in UTC or "", [Problem]) for the text of nbgrader's timestamp.txt ("" if there was none)."""
    if not text.strip():
        return "", []
    from nbgrader.utils import parse_utc
    try:
        return parse_utc(text.strip()[:100]).isoformat(), []
    except Exception as exc:                                  # dateutil's errors are many
        return "", [Problem("bad-timestamp", f"timestamp.txt is not a time ({type(exc).__name__}); the submission "
                                             "time is unknown, so lateness is not checked")]


def _as_python(source):
    """The cell as Python: IPython's transformer turns magics and shell escapes into get_ipython() calls."""
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager().transform_cell(source)


def editable_cells(nb, release=None):
    """The code cells the student may write: solution cells and cells of their own, by the release's metadata."""
    locked = set()
    if release is not None:
        locked = {grade_id(c) for c in release.cells if not is_solution(c)} - {None}
    for cell in nb.cells:
        mine = grade_id(cell) not in locked if release is not None else not is_locked(cell)
        if cell.cell_type == "code" and mine:
            yield cell


def scan_student_code(nb, notebook_id, release=None):
    """Flags for what the editable cells of a submission mention (see module docstring), at most MAX_FLAGS."""
    flags = []
    known = _grade_ids(release) if release is not None else None
    for cell in editable_cells(nb, release):
        cell_id = grade_id(cell)
        where = cell_id if cell_id and (known is None or cell_id in known) else "an added cell"
        try:
            tree = ast.parse(_as_python(cell.source))
            magic_calls = {id(node.func.value.func) for node in ast.walk(tree) if _magic(node) is not None}
            for node in ast.walk(tree):
                if id(node) in magic_calls:                   # the get_ipython() of a magic: judged as that magic
                    continue
                for message in _node_flags(node):
                    flags.append(Problem("suspected-cheating", f"{where}, line {getattr(node, 'lineno', '?')}: {message}",
                                         notebook_id))
        except (SyntaxError, ValueError) as exc:
            flags.append(Problem("syntax-error", f"{where}: line {getattr(exc, 'lineno', '?')}: {getattr(exc, 'msg', exc)}",
                                 notebook_id))
        except (RecursionError, MemoryError) as exc:          # Python could not compile it either
            flags.append(Problem("syntax-error", f"{where}: too deeply nested or too large to read "
                                                 f"({type(exc).__name__})", notebook_id))
        if len(flags) >= MAX_FLAGS:
            flags.append(Problem("suspected-cheating", f"more flags than {MAX_FLAGS}: the scan stopped here", notebook_id))
            break
    return flags


def _magic(node):
    """The name of the magic or shell escape a get_ipython() call runs, or None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name) and node.func.value.func.id == "get_ipython"):
        if node.func.attr in ("system", "getoutput"):
            return "!"
        if node.args and isinstance(node.args[0], ast.Constant):
            return str(node.args[0].value).lstrip("%")
    return None


def _node_flags(node):
    magic = _magic(node)
    if magic is not None:
        if magic not in HARMLESS_MAGICS:
            yield f"runs {'a shell command' if magic == '!' else f'the magic %{magic}'}"
        return
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
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr", "delattr")
          and len(node.args) > 1 and not isinstance(node.args[1], ast.Constant)):
        yield f"calls {node.func.id} with a computed name (hides what it reaches)"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
        if node.args and _root_name(node.args[0]) in PROTECTED_MODULES:
            yield f"calls {node.func.id} on {ast.unparse(node.args[0])} (monkeypatching)"


def _root_name(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
