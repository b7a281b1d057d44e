"""Hostile submissions of a1_neuron for tests/grader/test_grading_attacks.py: one notebook per class of attack.

Every attack notebook keeps the released stub (`raise NotImplementedError()`) or wrong code in all
the graded functions, so the only safe outcome is 0 points for every test cell, whatever the
attack does to the shell, the namespace, the wire, the scan, the feedback or the report.
Markers that must never turn up where they could act: `PWN` (HTML/JS payloads), `FORGED`
(forged problems), `\\x1b`/`\\x07`/`\\x9b` (terminal escapes).
"""
import base64
import io
import textwrap
import zipfile

import nbformat
import numpy as np

from autograder import course
from autograder.course import Course
from autograder.course.samples import filled, graded_cells, solution_cell

COURSE = Course.here()

A1 = "a1_neuron"
STUB = "raise NotImplementedError()"
TESTS = [g for g, _ in graded_cells(A1)]
FUNCTIONS = [g[len("test_"):] for g in TESTS]
# Hidden-test text that must never reach a student (see solutions/a1_neuron/a1_neuron.ipynb).
HIDDEN_TEXT = ["import rnncore", "reference.sigmoid", "reference.numeric_gradient", "fresh_rng()",
               "x_before = x.copy()", "BEGIN HIDDEN TESTS"]
ESCAPE_GRADE_ID = "evil\x1b[2J\x1b]0;FORGED title\x07\x9b31m\r\n  [timeout] bystander/a1_neuron: FORGED"
ESCAPE_FILE_NAME = "a1_neuron\x1b[2J\x1b]0;FORGED\x07.ipynb"
SMUGGLER = "extra.zip"        # an archive in the forgery folder that claims to hold the bystander's notebook


def release():
    return nbformat.read(str(COURSE.assignments / A1 / f"{A1}.ipynb"), as_version=4)


def stubbed(bodies=None):
    """a1_neuron with every graded function left as the released stub, except `bodies` {grade_id: body}."""
    bodies = bodies or {}
    return filled(A1, {g: textwrap.dedent(bodies.get(g, STUB)).strip("\n") for g in FUNCTIONS})


def own_cell(code, cell_type="code", **fields):
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
            "raw": nbformat.v4.new_raw_cell}[cell_type]
    return make(textwrap.dedent(code).strip("\n"), **fields)


def insert_after(nb, grade_id, code, **fields):
    """A student's own cell right after the cell `grade_id` (None: at the very top, above the setup cell)."""
    index = 0 if grade_id is None else nb.cells.index(solution_cell(nb, grade_id)) + 1
    cell = code if isinstance(code, nbformat.NotebookNode) else own_cell(code, **fields)
    cell.id = f"attack-{len(nb.cells)}"
    nb.cells.insert(index, cell)
    return nb


# --- code run inside the kernel by several attacks --------------------------------------------------------
# Answer the grader's current call with a reply of our own, then hand its next request back to the real
# server loop (so the session stays in step and later tests still run).
CRAFTED_REPLY = '''
import builtins, json
import autograder.kernel.server as _ks

def crafted(reply, kind="reply"):
    """Send the grader a prompt written by hand; return what it answered (its next request)."""
    text = builtins.input(reply if isinstance(reply, str) else json.dumps({"kind": kind, **reply}))
    if kind != "callback":                       # the grader took it as its reply and moved on
        original = _ks._ask
        def once(prompt):
            _ks._ask = original
            return text
        _ks._ask = once
    return text
'''


def _huge_npy():
    """A .npy header that claims 10^12 float64 values (8 TB) and carries none."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)})
    return base64.b64encode(buffer.getvalue()).decode()


# --- the attack notebooks ---------------------------------------------------------------------------------
def shell_hooks():
    """Shell settings and hooks installed before everything else (the cell sits above the setup cell)."""
    nb = stubbed({
        "relu": "print('✔ тест пройден')\nreturn x",
        "tanh": '"""A docstring as the last expression."""\nreturn "✔ тест пройден"',
    })
    insert_after(nb, None, '''
        ip = get_ipython()
        ip.ast_node_interactivity = "all"

        def swallow(shell, etype, value, tb, tb_offset=None):
            print("swallowed", etype.__name__)

        ip.set_custom_exc((BaseException,), swallow)

        def clear_errors(result):
            result.error_in_exec = None
            result.error_before_exec = None

        ip.events.register("post_run_cell", clear_errors)
        ip.events.register("post_execute", lambda: None)

        def spy(info):
            print("CELL SOURCE >>>", info.raw_cell, "<<< END")

        ip.events.register("pre_run_cell", spy)
        """a docstring that would become an execute_result"""
    ''')
    insert_after(nb, "softmax_cross_entropy", '''
        # every later cell, the grader's own requests included, "succeeds" without running
        ip = get_ipython()
        original = ip.run_cell

        def fake_run_cell(raw_cell, *args, **kwargs):
            print("✔ тест пройден")
            return original("None", *args, **kwargs)

        async def fake_run_cell_async(raw_cell, *args, **kwargs):
            print("✔ тест пройден")
            return original("None", *args[:2])

        ip.run_cell = fake_run_cell
        ip.run_cell_async = fake_run_cell_async
        ip.should_run_async = lambda *args, **kwargs: False
    ''')
    return nb


def shell_transformers():
    """AST and input transformers: every raise becomes a return, then every later cell becomes `pass`."""
    nb = stubbed()
    insert_after(nb, None, '''
        import ast
        ip = get_ipython()

        class RaiseToReturn(ast.NodeTransformer):
            def visit_Raise(self, node):
                return ast.copy_location(ast.Return(ast.Constant(0.5)), node)

        ip.ast_transformers.append(RaiseToReturn())
        ip.input_transformers_post.append(lambda lines: [l.replace("assert ", "assert True or ") for l in lines])
    ''')
    insert_after(nb, "softmax", '''
        get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
    ''')
    return nb


def namespace_helpers():
    """The notebook's globals and the helpers rebound, their code objects swapped, numpy patched."""
    nb = stubbed({"sigmoid": "return x", "softmax": "return z"})
    insert_after(nb, "setup", '''
        import sys, types
        import autograder.testing as testing

        call_student = lambda fn, *args, **kwargs: None
        compare = lambda *args, **kwargs: None
        check_gradients = lambda *args, **kwargs: None
        fresh_rng = lambda: (np.random.default_rng(0), 0)
        testing.compare.__code__ = (lambda fn_name, got, expected, names, rtol=1e-6, atol=1e-9, seed=None: None).__code__
        testing.check_gradients.__code__ = (lambda fn_name, forward, backward, args, names, dout, tol=1e-6, seed=None: None).__code__
        np.allclose = lambda *args, **kwargs: True
        np.array_equal = lambda *args, **kwargs: True
        np.isfinite = lambda *args, **kwargs: np.bool_(True)
        reference = types.SimpleNamespace(sigmoid=lambda x: x)
        sys.modules["rnncore"] = reference
        AssertionError = type("AssertionError", (Exception,), {})
    ''')
    insert_after(nb, "sigmoid", "np = None\nabs = lambda value: 0.0\nfloat = lambda value: 0.5")
    return nb


def above_setup():
    """A cell above the setup cell installs its own autograder.testing; the setup cell is stripped and edited."""
    nb = stubbed({"relu": "return x"})
    insert_after(nb, None, '''
        import sys, types
        fake = types.ModuleType("autograder.testing")
        fake.call_student = lambda fn, *args, name=None, **kwargs: None
        fake.compare = lambda *args, **kwargs: None
        fake.check_gradients = lambda *args, **kwargs: None
        fake.fresh_rng = lambda: (__import__("numpy").random.default_rng(0), 0)
        sys.modules["autograder.testing"] = fake
        import numpy
        numpy.allclose = lambda *args, **kwargs: True
        numpy.shape = lambda value: (2, 3)
    ''')
    setup = solution_cell(nb, "setup")
    setup.metadata.pop("nbgrader")
    setup.source += "\ncall_student = compare = check_gradients = lambda *args, **kwargs: None"
    return nb


def metadata_tricks():
    """Test cells stripped, re-marked as solutions or given 1000 points; a cell of the student's marked graded."""
    nb = stubbed()
    sigmoid_test = solution_cell(nb, "test_sigmoid")
    sigmoid_test.metadata.pop("nbgrader")
    sigmoid_test.source = "pass"
    tanh_test = solution_cell(nb, "test_tanh")
    tanh_test.metadata.nbgrader.update(solution=True, grade=False, locked=False)
    tanh_test.source = "pass"
    relu_test = solution_cell(nb, "test_relu")
    relu_test.metadata.nbgrader.update(points=1000)
    relu_test.source = "assert True"
    nb.cells.remove(solution_cell(nb, "test_softmax"))
    fake = own_cell("pass")
    fake.metadata["nbgrader"] = {"grade": True, "grade_id": "test_relu_grad", "locked": True, "points": 4,
                                 "schema_version": 3, "solution": False}
    insert_after(nb, "relu_grad", fake)                         # a copy of test_relu_grad before the real one
    bonus = own_cell("print('bonus')")
    bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "locked": True, "points": 100,
                                  "schema_version": 3, "solution": False, "checksum": "0"}
    nb.cells.append(bonus)
    as_markdown = solution_cell(nb, "sigmoid_grad")             # the solution cell turned into markdown
    as_markdown.cell_type = "markdown"
    del as_markdown["outputs"], as_markdown["execution_count"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def tracing_threads():
    """Trace hooks and a wrapped server turn errors into answers; threads and lazy objects compute later."""
    nb = stubbed({
        "relu": '''
            class Lazy(np.ndarray):
                def __eq__(self, other):
                    return True
                def __array_finalize__(self, obj):
                    pass
            return np.zeros(np.shape(x)).view(Lazy)
        ''',
        "tanh": '''
            class Anything:
                def __eq__(self, other):
                    return True
                def __array__(self, dtype=None, copy=None):
                    return np.zeros(np.shape(x))
                def __float__(self):
                    return 0.5
                def __len__(self):
                    return len(x)
                def __getitem__(self, key):
                    return self
            return Anything()
        ''',
        "sigmoid_grad": '''
            import threading, time
            result = []
            threading.Thread(target=lambda: (time.sleep(0.05), result.extend(np.zeros(np.shape(x))))).start()
            return result
        ''',
        "relu_grad": "return (v for v in np.ravel(x))",
        "tanh_grad": '''
            import threading, time
            out = np.zeros(np.shape(x))
            def later():
                time.sleep(0.01)
                out[...] = 0.25
            threading.Thread(target=later).start()
            return out
        ''',
        "mse_loss": '''
            class Loss(float):
                def __eq__(self, other):
                    return True
                def __sub__(self, other):
                    return 0.0
                __rsub__ = __sub__
            return Loss(0.0), np.zeros_like(y)
        ''',
        "softmax": '''
            import threading
            out = [None]
            thread = threading.Thread(target=lambda: out.__setitem__(0, __import__("rnn" + "core").softmax(z, axis=axis)))
            thread.start()
            thread.join()
            return out[0]
        ''',
    })
    insert_after(nb, "setup", '''
        import sys, threading, time
        import autograder.kernel.server as server

        original_call = server._call

        def forgiving_call(fn, args, kwargs, errstate):
            try:
                return original_call(fn, args, kwargs, errstate)
            except BaseException:
                first = args[0] if args else 0.0
                return (np.zeros_like(first) if isinstance(first, np.ndarray) else 0.0), "", []

        server._call = forgiving_call

        def local(frame, event, arg):
            if event == "exception":
                frame.f_locals["x"] = np.zeros(1)
            return local

        def tracer(frame, event, arg):
            return local if frame.f_code.co_name in ("sigmoid", "dense_forward") else None

        sys.settrace(tracer)
        threading.settrace(tracer)

        def rebinder():
            while True:
                globals()["bce_loss"] = lambda y, t: (0.0, np.zeros_like(y))
                time.sleep(0.01)

        threading.Thread(target=rebinder, daemon=True).start()
    ''')
    return nb


def wire_values():
    """Values that must not cross the wire, or must not crash the grader when they do."""
    return stubbed({
        "sigmoid": "t = ()\nfor _ in range(10000):\n    t = (t,)\nreturn t",
        "tanh": "return np.array([1.0, None], dtype=object)",
        "relu": "loop = [x]\nloop.append(loop)\nreturn loop",
        "softmax": "return {1: z, (2,): z, None: z}",
        "sigmoid_grad": "return np.random.default_rng(0)",
        "tanh_grad": "return np.full(np.shape(x), np.nan)",
        "relu_grad": "return np.zeros(np.shape(x), dtype=[('a', 'f8')])",
        "dense_forward": "return np.full((x.shape[0], W.shape[1]), np.nan), {'x': x, 7: W}",
        "dense_backward": "return b'\\x00' * 8, memoryview(b'ab'), bytearray(3)",
        "mse_loss": "return float('inf'), np.array(['0.0'] * y.size).reshape(y.shape)",
        "mae_loss": "return complex(1, 1), (np.zeros(np.shape(y)) + 1j)",
        "bce_loss": "return np.float64('nan'), [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0.0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "softmax_cross_entropy": "return np.zeros(12_000_000), np.zeros(12_000_000)",   # 2 x 96 MB
    })


def raw_replies():
    """Replies and prompts written by hand on the stdin channel (the student owns the kernel's server)."""
    npy = _huge_npy()
    nb = stubbed({
        "sigmoid": f"crafted({{'ok': True, 'value': {{'t': 'array', 'npy': '{npy}'}}}})\nreturn x",
        "tanh": "crafted({'ok': True, 'value': {'t': 'callback', 'id': 1}})\nreturn x",
        "relu": "crafted({'ok': True, 'value': {'t': 'handle', 'id': 999}})\nreturn x",
        "softmax": "crafted({'ok': True, 'value': {'t': 'array', 'npy': '!!not base64!!'}})\nreturn z",
        "sigmoid_grad": ("crafted({'ok': True, 'value': [0.0], 'notes': ['<script>PWN_NOTE()</script>\\x1b[2J'] * 50, "
                         "'printed': '\\x1b]0;FORGED\\x07<img src=x onerror=PWN_PRINTED()>' * 100})\nreturn x"),
        "tanh_grad": "crafted({'ok': True, 'value': {'t': 'float', 'repr': '__import__(\"os\")'}})\nreturn x",
        "relu_grad": ("crafted({'ok': True, 'value': x.tolist(), 'changed': [[0, {'t': 'generator', 'state': {'bad': 1}}], "
                      "['x', 1], [-1, 2], [10**6, 3]]})\nreturn x"),
        "dense_forward": "crafted({'ok': True})\nreturn x, None",
        "dense_backward": "crafted('not json at all', kind='raw')\nreturn None",
        "mse_loss": "crafted('[' * 200000, kind='raw')\nreturn None",
        "mae_loss": "crafted({'ok': True, 'value': {'t': 'dict', 'items': [[1, 2]]}})\nreturn None",
        "bce_loss": "import sys\nsys.set_int_max_str_digits(0)\ncrafted({'ok': True, 'value': 10 ** 5000})\nreturn None",
        "softmax_cross_entropy": "crafted('x' * (70 * 2 ** 20), kind='raw')\nreturn None",     # larger than a message may be
    })
    insert_after(nb, "setup", CRAFTED_REPLY)
    return nb


def mutates_inputs():
    """Wrong functions that change the grader's arguments in place so that expected values match them."""
    return stubbed({
        "sigmoid": "x[...] = 0.0\nreturn np.full(x.shape, 0.5)",
        "tanh": "x[...] = 0.0\nreturn np.zeros(x.shape)",
        "softmax": "z[...] = 0.0\nreturn np.full(z.shape, 1.0 / z.shape[axis])",
        "sigmoid_grad": "x[...] = 0.0\nreturn np.full(x.shape, 0.25)",
        "dense_forward": "x[...] = 0.0\nW[...] = 0.0\nb[...] = 0.0\nreturn np.zeros((x.shape[0], W.shape[1])), (x, W)",
        "dense_backward": "dout[...] = 0.0\nx, W = cache\nreturn np.zeros(x.shape), np.zeros(W.shape), np.zeros(W.shape[1])",
        "mse_loss": "t[...] = y\nreturn 0.0, np.zeros_like(y)",
        "mae_loss": "t[...] = y\nreturn 0.0, np.zeros_like(y)",
        "softmax_cross_entropy": "scores[...] = 0.0\nreturn float(np.log(scores.shape[-1])), np.zeros_like(scores)",
    })


def mutation_exploits():
    """Unstable or wrong code that zeroes the grader's own inputs in place where no test checks them afterwards.

    The kernel sends back every argument a call changed, and the grader copies the change into its own
    array (so in-place updates behave as in the notebook). A test that computes the expected value from
    its inputs after the call, without checking them, then compares against zeros chosen by the student.
    """
    nb = stubbed({
        "softmax": '''
            with np.errstate(all="ignore"):                       # naive: exp(1000) overflows
                e = np.exp(z)
                out = e / np.sum(e, axis=axis, keepdims=True)
            if not np.all(np.isfinite(out)):
                z[...] = 0.0                                      # now the reference is uniform too
                out = np.full(z.shape, 1.0 / z.shape[axis])
            return out
        ''',
        "softmax_cross_entropy": '''
            V = scores.shape[-1]
            flat, labels = scores.reshape(-1, V), y.reshape(-1)
            keep = np.ones(labels.shape) if mask is None else np.asarray(mask, dtype=float).reshape(-1)
            rows = np.arange(len(flat))
            with np.errstate(all="ignore"):                       # naive: log(softmax) is -inf at 1000
                p = np.exp(flat) / np.exp(flat).sum(axis=1, keepdims=True)
                loss = -(np.log(p[rows, labels]) * keep).sum() / keep.sum()
            d = p.copy()
            d[rows, labels] -= 1
            d *= (keep / keep.sum())[:, None]
            if not (np.isfinite(loss) and np.all(np.isfinite(d))):
                scores[...] = 0.0
                return softmax_cross_entropy(scores, y, mask)
            return float(loss), d.reshape(scores.shape)
        ''',
        "dense_forward": '''
            CALLS.append(1)
            out = x @ W + b                                       # right, and test_dense_forward may pass
            if len(CALLS) > 6:                                    # the calls of test_dense_backward
                x[...] = 0.0
                W[...] = 0.0
            return out, (x, W)
        ''',
        "dense_backward": '''
            x, W = cache
            return np.zeros(x.shape), np.zeros(W.shape), dout.sum(axis=0)     # dx and dW never computed
        ''',
    })
    insert_after(nb, "setup", "CALLS = []")
    return nb


def scan_evasion():
    """Code run from strings, magics and shell escapes, in cells whose metadata claims they are locked."""
    payload = "def _wrong(x):\n    return x\n".encode().hex()
    nb = stubbed({
        "sigmoid": f"exec(bytes.fromhex('{payload}').decode())\nreturn _wrong(x)",
        "tanh": "return eval('x * 0')",
        "relu": "import types\nreturn types.FunctionType(compile('lambda v: v', '<s>', 'eval'), {})",
        "sigmoid_grad": "exec('y = x')\nreturn x",
        "tanh_grad": "return eval('x')",
        "relu_grad": "run = globals()['__buil' + 'tins__']\nrun = run['ex' + 'ec'] if isinstance(run, dict) else getattr(run, 'ex' + 'ec')\nrun('z = 1')\nreturn x",
    })
    solution_cell(nb, "sigmoid_grad").metadata.nbgrader.update(locked=True)
    solution_cell(nb, "tanh_grad").metadata.nbgrader.update(locked=True, grade=True, points=4)
    insert_after(nb, "setup", "%run -i /dev/null\n!cat /etc/hostname\nlisting = !ls /")
    insert_after(nb, "tanh", "%%bash\necho hello")
    return nb


def secrets():
    """Reads of root-only files, the solutions, other students, the reference, and the grader's objects."""
    nb = stubbed({"relu": '''
        import builtins, json
        for target in (0, 1, 2, -1, "1"):
            for op, name in (("getattr", "__dict__"), ("getattr", "_remote"), ("getattr", "namespace"), ("call", "")):
                answer = builtins.input(json.dumps({"kind": "callback", "op": op, "target": target, "name": name,
                                                    "args": {"t": "list", "items": []},
                                                    "kwargs": {"t": "dict", "items": []}}))
                print("LEAK", target, op, name, answer[:200])
        return x
    '''})
    insert_after(nb, "setup", '''
        import fnmatch, glob, importlib.util, os
        import autograder

        def probe(path):
            try:
                with open(path, "rb") as f:
                    f.read(16)
                return "READABLE"
            except Exception as exc:
                return type(exc).__name__

        def files(pattern):
            """Files whose name matches, anywhere but the system and Python folders."""
            found = 0
            for root in glob.glob("/*"):
                if root in ("/usr", "/proc", "/sys", "/dev", "/lib", "/lib32", "/lib64", "/bin", "/sbin"):
                    continue
                for folder, subfolders, names in os.walk(root):
                    subfolders[:] = [d for d in subfolders if d not in (".venv", "site-packages", "__pycache__")]
                    found += len(fnmatch.filter(names, pattern)) + len(fnmatch.filter(subfolders, pattern))
            return found

        repo = os.path.dirname(os.path.dirname(autograder.__file__))
        print("shadow:", probe("/etc/shadow"))
        print("solution notebooks visible:", len(glob.glob(os.path.join(repo, "solutions", "**", "*.ipynb"), recursive=True)))
        print("git objects visible:", len(glob.glob(os.path.join(repo, ".git", "objects", "*"))))
        print("rnncore visible:", importlib.util.find_spec("rnncore") is not None)
        print("samples visible:", len(glob.glob(os.path.join(repo, "autograder", "samples", "**", "*.ipynb"), recursive=True)))
        print("other students visible:", files("bystander*"))
        print("notebooks visible:", files("*.ipynb"))
        print("uid:", os.getuid())
    ''')
    return nb


def memory_tree():
    """Four children of 2 GB each: every process stays under its own address-space limit, the tree does not."""
    nb = stubbed()
    insert_after(nb, "setup", '''
        import os
        import numpy as np
        children = []
        for k in range(4):
            pid = os.fork()
            if pid == 0:
                block = np.ones(2 ** 28)          # 2 GB, every page touched
                block += 1.0
                os._exit(0)
            children.append(pid)
        statuses = [os.waitpid(pid, 0)[1] for pid in children]
        print("children started:", len(children), "killed:", sum(os.WIFSIGNALED(s) for s in statuses))
    ''')
    return nb


def floods():
    """Output floods: update_display_data in a loop, a huge HTML display, a huge print, prints in every call."""
    nb = stubbed({"sigmoid": "print('z' * 5_000_000)\nraise NotImplementedError()"})
    insert_after(nb, "setup", '''
        from IPython.display import HTML, display
        handle = display(HTML("start"), display_id=True)
        for i in range(4000):
            handle.update(HTML("u" * 2000 + str(i)))
    ''')
    insert_after(nb, "tanh", 'from IPython.display import HTML, display\ndisplay(HTML("<b>" + "h" * 12_000_000 + "</b>"))')
    insert_after(nb, "relu", 'print("p" * 12_000_000)')
    return nb


def html_injection():
    """Scripts, event handlers and javascript: URLs in every kind of output, in markdown, raw cells and errors."""
    nb = stubbed({
        "sigmoid": "raise ValueError('<script>PWN_TEST_MESSAGE()</script><img src=x onerror=PWN_TEST_IMG()>')",
        "tanh": "print('<img src=x onerror=PWN_TEST_PRINT()><script>PWN_TEST_SCRIPT()</script>')\nreturn x",
        "relu": "raise type('<img src=x onerror=PWN_TEST_ENAME()>', (Exception,), {})('PWN')",
    })
    insert_after(nb, "setup", '''
        from IPython.display import HTML, SVG, Javascript, Latex, Markdown, display, publish_display_data
        display(HTML('<script>window.PWN_SCRIPT = 1</script><img src=x onerror="PWN_IMG()">'
                     '<a href="javascript:PWN_LINK()">x</a><iframe src="javascript:PWN_IFRAME()"></iframe>'
                     '<svg onload="PWN_SVGLOAD()"></svg><object data="javascript:PWN_OBJECT()"></object>'
                     '<a href=" JaVaScRiPt:PWN_CASE()">y</a><form action="javascript:PWN_FORM()"></form>'))
        display(Javascript("window.PWN_JS = 1"))
        display(Markdown('[click](javascript:PWN_MD_LINK()) <img src=x onerror=PWN_MD_IMG()> <script>PWN_MD_SCRIPT()</script>'))
        display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>PWN_SVG()</script></svg>'))
        display(Latex('$x$ <script>PWN_LATEX()</script><img src=x onerror=PWN_LATEX_IMG()>'))
        publish_display_data({"image/png": '" onerror="PWN_PNG()', "text/plain": "png"},
                             metadata={"image/png": {"width": '1" onerror="PWN_WIDTH()', "height": "<script>PWN_H()</script>"}})
        publish_display_data({"image/jpeg": 'x"><script>PWN_JPEG()</script>', "text/plain": "jpeg"})
        publish_display_data({"application/json": {"a": "</script><script>PWN_JSON()</script>"}, "text/plain": "json"})
        publish_display_data({"application/javascript": "PWN_APPJS()", "text/plain": "appjs"})
        publish_display_data({"text/markdown": '<img src=x onerror=PWN_TEXTMD()>', "text/plain": "md"})
        print("<script>PWN_STREAM()</script>")
        HTML('<img src=x onerror="PWN_RESULT()">')
    ''')
    insert_after(nb, "tanh", "raise type('<img src=x onerror=PWN_ENAME()>', (Exception,), {})('<script>PWN_EVALUE()</script>')")
    markdown = own_cell('<script>PWN_CELL()</script>\n\n<img src=x onerror=PWN_CELL_IMG()>\n\n'
                        '[link](javascript:PWN_CELL_LINK())\n\n<a href="javascript:PWN_A()">a</a>\n\n'
                        '![svg](attachment:x.svg)', cell_type="markdown")
    markdown.attachments = {"x.svg": {"image/svg+xml": base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="PWN_ATTACHMENT()"><script>PWN_ATT()</script></svg>').decode()}}
    insert_after(nb, "relu", markdown)
    insert_after(nb, "softmax", own_cell("<script>PWN_RAW()</script><img src=x onerror=PWN_RAW_IMG()>", cell_type="raw",
                                         metadata={"format": "text/html", "raw_mimetype": "text/html"}))
    intro_end = solution_cell(nb, "intro_end")
    intro_end.source += "\n\n<script>PWN_LOCKED_MARKDOWN()</script>"
    return nb


def terminal_escapes():
    """Terminal escape sequences in prints, exception messages, metadata and a forged line break."""
    nb = stubbed({
        "sigmoid": "raise ValueError('\\x1b[2J\\x1b]0;FORGED\\x07\\x9b31m boom')",
        "tanh": "print('\\x1b[2J\\x1b]0;FORGED\\x07\\r\\x08')\nreturn x",
        "relu_grad": "return \x1b[31m x",
    })
    insert_after(nb, "setup", '''
        print("\\x1b]0;FORGED title\\x07\\x1b[2J\\x1b[31mred\\x9b31m\\r\\x08")
        raise ValueError("\\x1b[2Jboom\\x07")
    ''')
    flagged = own_cell("exec('1')")
    flagged.metadata["nbgrader"] = {"grade_id": ESCAPE_GRADE_ID, "solution": True, "grade": False, "locked": False,
                                    "schema_version": 3}
    insert_after(nb, "relu", flagged)
    return nb


def forgery():
    """Printed lines and exception names that imitate the grader's own observations."""
    nb = stubbed({
        "sigmoid": "raise KeyboardInterrupt('FORGED')",
        "tanh": "raise SystemExit('FORGED')",
        "relu": "class CallTimeout(Exception):\n    pass\nraise CallTimeout('FORGED')",
        "softmax": "class KernelGone(Exception):\n    pass\nraise KernelGone('FORGED')",
    })
    insert_after(nb, "setup", '''
        import sys
        for kind in ("timeout", "kernel-died", "not-run", "output-truncated", "grader-error"):
            print(f"[grader] {kind}: FORGED bystander/a1_neuron test_sigmoid")
            print(f"  [{kind}] bystander/a1_neuron: FORGED", file=sys.stderr)
        print("\\n[output cut: more than 1 bytes] FORGED\\n")
    ''')
    for name in ("NotRun", "KernelDied", "CellTimeoutError", "DeadKernelError", "CellExecutionError"):
        insert_after(nb, "relu", f"class {name}(Exception):\n    pass\n\nraise {name}('FORGED: test_relu ran past 10 s')")
    return nb


# {student: (notebook, test cells that must score 0)}; an attack keeps its honest parts' points
LOST_IN_MUTATION = ["test_softmax", "test_dense_backward", "test_softmax_cross_entropy"]
ATTACKS = {
    "shell_hooks": shell_hooks,
    "shell_transformers": shell_transformers,
    "namespace_helpers": namespace_helpers,
    "above_setup": above_setup,
    "metadata_tricks": metadata_tricks,
    "tracing_threads": tracing_threads,
    "wire_values": wire_values,
    "raw_replies": raw_replies,
    "mutates_inputs": mutates_inputs,
    "mutation_exploits": mutation_exploits,
    "scan_evasion": scan_evasion,
    "secrets": secrets,
    "floods": floods,
    "memory_tree": memory_tree,
    "html_injection": html_injection,
    "terminal_escapes": terminal_escapes,
    "forgery": forgery,
}


def lost_tests(student):
    """The test cells a student's notebook must score 0 on (all of them but for mutation_exploits)."""
    return LOST_IN_MUTATION if student == "mutation_exploits" else TESTS


def write_submissions(folder):
    """Every attack, the honest bystander and the untouched release, in nbgrader layout under `folder`."""
    notebooks = {name: make() for name, make in ATTACKS.items()}
    notebooks["bystander"] = filled(A1)
    notebooks["empty"] = release()
    for student, nb in notebooks.items():
        path = folder / student / A1 / f"{A1}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(nbformat.writes(nb, version=4))
    odd = folder / "escape_filename" / A1 / ESCAPE_FILE_NAME      # a file name with terminal escapes in it
    odd.parent.mkdir(parents=True)
    odd.write_text(nbformat.writes(stubbed(), version=4))
    with zipfile.ZipFile(folder / "forgery" / A1 / SMUGGLER, "w") as archive:   # the bystander's notebook, replaced
        for member in (f"bystander/{A1}/{A1}.ipynb", f"../bystander/{A1}/{A1}.ipynb", f"../../bystander/{A1}/{A1}.ipynb"):
            archive.writestr(member, nbformat.writes(stubbed(), version=4))
    return sorted(notebooks) + ["escape_filename"]
