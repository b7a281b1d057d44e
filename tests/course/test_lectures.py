"""The lecture and assignment notebooks as files: one vocabulary, and nothing for JupyterLab to rewrite.

Vocabulary: lectures/GLOSSARY.md picks one term and one symbol per notion and lists, term by term, the
synonyms the course does not use (its column «не пишем»). This file reads that table and looks for every
rejected form in every lecture and assignment: in the markdown, in the figure labels the code sets (titles,
axis labels, legends, colour bars) and in the strings the code prints. Russian synonyms may appear nowhere,
English terms only as a gloss in parentheses or inside a «quotation», symbols not in formulas. Figure labels
and printed strings must be Russian besides: a Latin word there is a name, an abbreviation or code.
Clean files: a notebook opened in JupyterLab must not show as modified (JupyterLab rewrites the kernelspec
display name, widget state, streams with carriage returns, split stream outputs, missing cell ids), and a
stored output must not show what only a running kernel can show (a widget) or a half-done progress bar.
"""
import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
ASSIGNMENTS = sorted((ROOT / "assignments").glob("*/*.ipynb"))
GLOSSARY = ROOT / "lectures" / "GLOSSARY.md"

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_HINT = "Запустите ячейку, чтобы появились ползунки."

# Figure texts: the methods and keywords of matplotlib that put words on a figure (tick labels are data).
LABEL_METHODS = {"set_title", "set_xlabel", "set_ylabel", "suptitle", "title", "xlabel", "ylabel", "set_label", "legend"}
LABEL_KEYWORDS = {"label", "title", "desc"}           # desc: the label of a progress bar
# Latin words a Russian figure label or printed line may hold: names, abbreviations, functions and symbols of the
# field, matplotlib colours; the English words of the glossary's terms are added below.
LATIN_ALLOWED = {
    "lstm", "gru", "rnn", "birnn", "relu", "tanh", "softmax", "sigmoid", "adam", "sgd", "rmsprop", "adagrad", "nesterov",
    "momentum", "mse", "mae", "bce", "iso", "pytorch", "cudnn", "torch", "numpy", "tensorflow", "rnncore", "seq2seq",
    "min-char-rnn", "cs231n", "luong", "bahdanau", "karpathy", "colah", "cho", "gnmt", "udacity", "xavier", "glorot",
    "log", "exp", "max", "min", "argmax", "diag", "sqrt", "dim", "nan", "inf", "true", "false", "none", "cpu", "gpu",
    "bos", "eos", "pad", "unk", "start", "end", "src", "tgt", "ids", "url", "hello",
    "gray", "grey", "black", "white", "red", "blue", "green", "orange", "purple", "brown", "pink", "olive", "cyan",
    "magenta", "tab", "viridis", "coolwarm", "blues", "greens", "reds", "oranges", "greys", "rdbu", "magma", "plasma",
}


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def rel(path):
    return str(path.relative_to(ROOT))


# --------------------------------------------------------------------------- the glossary

def split_items(cell):
    """The comma-separated items of a table cell; a comma inside $...$ does not split."""
    items, depth, current = [], False, ""
    for ch in cell:
        if ch == "$":
            depth = not depth
        if ch == "," and not depth:
            items.append(current.strip())
            current = ""
        else:
            current += ch
    return [item for item in items + [current.strip()] if item and item != "—"]


def glossary_rows():
    """The rows of GLOSSARY.md's main table: {"term", "english", "symbol", "where", "rejected": [...]}."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) != 5 or cells[0] in ("термин", "---") or set(cells[0]) <= {"-"}:
            continue
        rows.append(dict(zip(["term", "english", "symbol", "where", "rejected"], cells[:4] + [split_items(cells[4])])))
    return rows


def normalize_math(text):
    """Math without spaces, and {x} -> x around one character: s_{t} and s_t, h^{L} and h^L compare equal."""
    text = re.sub(r"\s+", "", text)
    return re.sub(r"([_^])\{(\\?[A-Za-z0-9])\}", r"\1\2", text)


def compile_item(item):
    """(kind, regex) of one rejected form: "russian" (everywhere), "english" (outside glosses), "symbol" (in math),
    "mixed" (a word, then a formula, in the raw markdown). A Russian form marked "(вне цитат)" is checked like
    an English one: a slide may be quoted."""
    if item.endswith("(вне цитат)"):
        return "english", compile_item(item[:-len("(вне цитат)")].strip())[1]
    cyrillic = bool(re.search(r"[а-яё]", item, re.IGNORECASE))
    if item.startswith("$") and item.endswith("$") and item.count("$") == 2:
        body = re.escape(normalize_math(item[1:-1]))
        return "symbol", re.compile(r"(?<![A-Za-z\\])" + body + r"(?![A-Za-z0-9])")
    if "$" in item:                                      # «температур* $T$»: a word, then a formula that starts so
        words = [r"\$" + re.escape(w.strip("$")) if w.startswith("$") else re.escape(w).replace(r"\*", "[а-яёa-z]*")
                 for w in item.split()]
        return "mixed", re.compile(r"(?<![а-яё])" + r"\s+".join(words) + r"(?![A-Za-z0-9])", re.IGNORECASE)
    body = re.escape(item).replace(r"\*", "[а-яёa-z-]*").replace(r"\ ", r"[\s-]+")
    letters = "а-яё" if cyrillic else "a-z_"
    return ("russian" if cyrillic else "english"), re.compile(rf"(?<![{letters}]){body}(?![{letters}])", re.IGNORECASE)


ROWS = glossary_rows()
REJECTED = [(row["term"], item, *compile_item(item)) for row in ROWS for item in row["rejected"]]
# English terms the course keeps (first column): blanked before looking for rejected English words in them
CHOSEN_ENGLISH = sorted({part.strip() for row in ROWS for part in re.split(r",|/", row["term"])
                         if part.strip() and not re.search(r"[а-яё]", part, re.IGNORECASE)}, key=len, reverse=True)
LATIN_ALLOWED |= {word.lower() for row in ROWS for word in re.findall(r"[A-Za-z][A-Za-z-]*", row["term"])}   # one-hot, BPTT


# --------------------------------------------------------------------------- what a reader of a notebook sees

def strip_markup(markdown):
    """Markdown without code, math, link targets and HTML tags (each replaced by a space)."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.DOTALL)
    text = re.sub(r"\$[^$\n]*\$", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"<[^>]+>", " ", text)


def math_of(markdown):
    """The formulas of a markdown text ($...$ and $$...$$), normalized."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    return [normalize_math(m) for m in re.findall(r"\$\$(.*?)\$\$|\$([^$\n]+)\$", text, flags=re.DOTALL) for m in m if m]


def outside_glosses(text):
    """text with what stands in parentheses or in «quotes» blanked: there an English term is a gloss or a title."""
    out, parens, quotes = [], 0, 0
    for ch in text:
        if ch == "(":
            parens += 1
        elif ch == ")":
            parens = max(0, parens - 1)
        elif ch == "«":
            quotes += 1
        elif ch == "»":
            quotes = max(0, quotes - 1)
        out.append(ch if parens == quotes == 0 and ch not in "()«»" else " ")
    return "".join(out)


def without_chosen(text):
    for phrase in CHOSEN_ENGLISH:
        text = re.sub(rf"(?<![A-Za-z]){re.escape(phrase)}(?![A-Za-z])", " ", text, flags=re.IGNORECASE)
    return text


def literal_parts(node):
    """The constant text of a string expression; code inside it is left out: calls, indices, the expressions of
    f-string fields and their format specs (a field that is itself a string, f"{'шаг':<6}", is text)."""
    code = set()
    for n in ast.walk(node):
        if isinstance(n, (ast.Call, ast.Subscript, ast.Compare)):
            code.update(id(sub) for sub in ast.walk(n))
        elif isinstance(n, ast.FormattedValue):
            if not isinstance(n.value, ast.Constant):
                code.update(id(sub) for sub in ast.walk(n.value))
            if n.format_spec is not None:
                code.update(id(sub) for sub in ast.walk(n.format_spec))
    return [n.value for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in code and n.value.strip()]


PLOTTING = re.compile(r"\bplt\.|\.plot\(|subplots\(|\.imshow\(|\.bar\(|\.scatter\(")
TICK_CALLS = {"set_xticks", "set_yticks", "xticks", "yticks", "set_xticklabels", "set_yticklabels", "text", "annotate"}


def looks_like_words(text):
    """A string of a list or dict that reads as a label: words with spaces, Russian, or an abbreviation (a lone
    lowercase Latin token such as "hello", "gray" or "dot" is data, a colour or a key)."""
    return bool(re.search(r"\s|[а-яё]", text.strip(), re.IGNORECASE) or re.fullmatch(r"[A-Z]{2,}", text.strip()))


def code_texts(source):
    """(kind, text) of the words a code cell shows: "label" for figure texts, "print" for printed strings.

    Figure texts: the first argument of a title or axis-label call, the labels of a legend, and the keywords
    label=, title=, desc= (a progress bar); in a cell that draws, also the strings of list and dict literals
    (legend names are usually kept there), except tick labels, which are data.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    texts = []
    skip = set()                                          # literals that are data: tick labels, keys, indices
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in TICK_CALLS or name == "print":
                skip.update(id(sub) for arg in node.args + [k.value for k in node.keywords] for sub in ast.walk(arg))
        elif isinstance(node, ast.Subscript):
            skip.update(id(sub) for sub in ast.walk(node.slice))
        elif isinstance(node, ast.Dict):
            skip.update(id(sub) for key in node.keys if key is not None for sub in ast.walk(key))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "print":
            texts += [("print", part) for arg in node.args for part in literal_parts(arg)]
        elif name in ("append", "join", "format") or (name == "write" and "stdout" in ast.unparse(node.func)):
            texts += [("print", part) for arg in node.args if isinstance(arg, ast.JoinedStr)
                      for part in literal_parts(arg)]            # lines collected, then printed
        elif name in LABEL_METHODS:
            args = node.args[:1] if name != "legend" else [a for a in node.args if isinstance(a, (ast.List, ast.Tuple))]
            texts += [("label", part) for arg in args for part in literal_parts(arg)]
        for keyword in node.keywords:
            if keyword.arg in LABEL_KEYWORDS:
                texts += [("label", part) for part in literal_parts(keyword.value)]
    if PLOTTING.search(source):
        for node in ast.walk(tree):
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                elements = node.elts
            elif isinstance(node, ast.Dict):
                elements = node.values
            else:
                continue
            texts += [("label", element.value) for element in elements if id(element) not in skip
                      and isinstance(element, ast.Constant) and isinstance(element.value, str) and looks_like_words(element.value)]
    return texts


def code_names(source):
    """Every identifier and attribute a code cell uses (a printed string may name them)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.arg)):
            names.add(getattr(node, "name", None) or node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return {n.lower() for n in names if n}


def reader_texts(path):
    """(cell index, kind, text) of what a reader sees: markdown; in lectures also figure labels and printed strings."""
    nb = load(path)
    lecture = path.parent.name == "lectures"
    texts = []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            texts.append((i, "markdown", source))
        elif lecture and cell["cell_type"] == "code":
            texts += [(i, kind, text) for kind, text in code_texts(source)]
    return texts


def vocabulary_problems(path):
    """Every rejected form of the glossary that a notebook uses, as readable lines."""
    found = []
    for i, kind, text in reader_texts(path):
        prose = strip_markup(text) if kind == "markdown" else re.sub(r"\$[^$]*\$", " ", text)
        glossed = without_chosen(outside_glosses(prose))
        formulas = math_of(text)
        for term, item, item_kind, pattern in REJECTED:
            if item_kind == "russian":
                hits = pattern.findall(prose)
            elif item_kind == "english":
                hits = pattern.findall(glossed)
            elif item_kind == "mixed":
                hits = pattern.findall(text)
            else:
                hits = [m for formula in formulas for m in pattern.findall(formula)]
            found += [f"cell {i} ({kind}): {hit!r} — the glossary writes «{term}» (rejected: {item})" for hit in hits]
    return found


def latin_words(text, allowed):
    """Latin words of 3 letters or more in a label or printed string that are not names, code or abbreviations."""
    text = re.sub(r"\$[^$]*\$", " ", text)                              # mathtext
    text = re.sub(r"`[^`]*`|«[^»]*»|'[^'\n]*'", " ", text)             # code, quoted data
    words = re.findall(r"[A-Za-z][A-Za-z0-9_.'-]*[A-Za-z0-9]", text)
    return [w for w in words if len(re.sub(r"[^A-Za-z]", "", w)) >= 3 and not re.search(r"[_.0-9]|[a-z][A-Z]", w)
            and w.lower().strip("'") not in allowed and not (w.isupper() and len(w) <= 5)]


def english_problems(path):
    """Figure labels and printed strings of a lecture with English words in them."""
    nb = load(path)
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        allowed = LATIN_ALLOWED | code_names(source)
        for kind, text in code_texts(source):
            words = latin_words(text, allowed)
            if words:
                found.append(f"cell {i} ({kind}): {text.strip()[:70]!r} has the English words {words}")
    return found


# --------------------------------------------------------------------------- the tests

def test_notebooks_found():
    """Guard against a glob that silently matches nothing."""
    assert len(LECTURES) >= 6 and len(SOLUTIONS) >= 5 and len(ASSIGNMENTS) >= 5


def test_glossary_table_is_read_and_every_row_is_complete():
    """Is every row of GLOSSARY.md read, with its English term, symbol, place and a «не пишем» cell?"""
    assert len(ROWS) >= 45, f"only {len(ROWS)} glossary rows were read"
    for row in ROWS:
        assert row["term"] and row["english"] and row["symbol"] and row["where"], row
    terms = [row["term"] for row in ROWS]
    assert len(terms) == len(set(terms)), "a term appears twice in the glossary"
    assert sum(len(row["rejected"]) for row in ROWS) >= 60


@pytest.mark.parametrize("text, item, expected", [
    ("Это узкое горлышко модели.", "узк* горлышк*", 1),
    ("Каждый forget gate решает.", "gate", 1),
    ("**Фильтр забывания** (forget gate) решает.", "gate", 0),                 # a gloss in parentheses
    ("Слайд «Forget gate layer» объясняет.", "gate", 0),                       # a quotation
    ("Это exposure bias, а не bias.", "bias", 1),                              # the chosen term is no synonym
    ("Состояние $s_{t-1}$ и $d_t$.", "$s_{t-1}$", 1),
    ("Состояние $d_{t-1}$ и $h_s$.", "$s_t$", 0),
    ("При температуре $T = 2$.", "температур* $T$", 1),
    ("$c = h_{T}$ передаётся декодеру", "$c = h_T$", 1),
    ("Слайд: «нет катастрофического забывания».", "катастрофическ* забыван* (вне цитат)", 0),
    ("Это катастрофическое забывание.", "катастрофическ* забыван* (вне цитат)", 1),
    ("Без `beam search` в коде.", "beam search", 0),                          # code is not prose
])
def test_the_glossary_check_finds_what_it_should(text, item, expected, tmp_path):
    """Does a rejected form count where the glossary forbids it, and not in glosses, quotations, code or other symbols?"""
    kind, pattern = compile_item(item)
    prose = strip_markup(text)
    hits = {"russian": lambda: pattern.findall(prose), "english": lambda: pattern.findall(without_chosen(outside_glosses(prose))),
            "mixed": lambda: pattern.findall(text),
            "symbol": lambda: [m for f in math_of(text) for m in pattern.findall(f)]}[kind]()
    assert len(hits) == expected, (text, item, kind, hits)


def test_figure_labels_and_prints_are_read_from_the_code():
    """Are titles, axis labels, legend labels and printed strings found in code, f-string fields left out?"""
    source = ("ax.set_title(f'Loss after {n} steps')\nax.plot(x, y, label='train')\nplt.xlabel('время')\n"
              "fig.colorbar(im, label='weight')\nprint(f'exact match {acc:.3f}', f\"{'model':<9}\", rc.f('data'))\n"
              "ax.set_xticks(t, ['a', 'b'])\nnames = {'dot': 'dot attention'}\n")
    assert sorted(code_texts(source)) == sorted([
        ("label", "Loss after "), ("label", " steps"), ("label", "train"), ("label", "время"), ("label", "weight"),
        ("print", "exact match "), ("print", "model"), ("label", "dot attention")])
    assert latin_words("exact match (ln V), LSTM, rc.softmax, dWh", LATIN_ALLOWED) == ["exact", "match"]


# The drifts a reader found once (issue #25), each in the kind of cell where it was: the checks must catch them.
DRIFTS = [
    ("markdown", "Если forget gate $f_t = 1$, память не стирается."),
    ("markdown", "Реализуйте **embedding-слой** с padding."),
    ("markdown", "Beam search хранит несколько лучших начал ответа."),
    ("markdown", "Dot-product attention (Luong et al., 2015): $e_s = h_s \\cdot q$."),
    ("markdown", "Модель encoder-decoder читает одну последовательность."),
    ("markdown", "Один вектор — узкое горлышко: вся фраза должна в нём уместиться."),
    ("markdown", "Декодер: $s_t = g(s_{t-1}, y_{t-1}, c)$."),
    ("markdown", "Оценки токенов $s_t = [h_t, \\text{context}_t] W_\\text{out}$."),
    ("markdown", "Вектор $c_t = \\sum_j \\alpha_{tj} h_j$ — контекст."),
    ("markdown", "Градиент vanilla RNN затухает."),
    ("markdown", "$$\\delta^\\ell_t = [\\ell = L]\\,\\frac{\\partial L_t}{\\partial h^L_t}$$"),
    ("code", "ax.plot(x, y, label='dot attention')"),
    ("code", "names = {None: 'без внимания', 'dot': 'dot attention'}\nfig, ax = plt.subplots()"),
    ("code", "fig.suptitle('Карты внимания (dot attention)')"),
    ("code", "print(f'exact match {acc:.3f} (one date {a:.3f}, two dates {b:.3f})')"),
    ("code", "print(f'V = {V}: a one-hot vector has {V} numbers, {V - 1} of them zeros')"),
    ("code", "ax.legend(['last', 'mean', 'max', 'attention', 'BOW'])"),
]


@pytest.mark.parametrize("kind, source", DRIFTS, ids=[f"drift{i}" for i in range(len(DRIFTS))])
def test_a_reintroduced_drift_is_caught(kind, source, tmp_path):
    """Would the vocabulary checks fail if one of the drifts found in the lectures came back?"""
    cell = {"cell_type": kind, "id": "x", "metadata": {}, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    path = tmp_path / "lectures" / "drift.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert vocabulary_problems(path) or english_problems(path), f"no check caught: {source}"


@pytest.mark.parametrize("path", LECTURES + SOLUTIONS + ASSIGNMENTS, ids=rel)
def test_no_glossary_synonyms(path):
    """Does the notebook use only the glossary's terms and symbols (text, figure labels, printed strings)?"""
    found = vocabulary_problems(path)
    assert not found, f"{rel(path)} uses forms lectures/GLOSSARY.md rejects:\n" + "\n".join(found)


@pytest.mark.parametrize("path", LECTURES, ids=rel)
def test_figure_labels_and_printed_text_are_russian(path):
    """Are the titles, axes, legends and printed lines of a lecture Russian (Latin only for names and code)?"""
    found = english_problems(path)
    assert not found, f"{rel(path)} shows English to the reader:\n" + "\n".join(found)


@pytest.mark.parametrize("path", LECTURES + SOLUTIONS + ASSIGNMENTS, ids=rel)
def test_metadata_is_what_jupyterlab_writes(path):
    nb = load(path)
    assert "widgets" not in nb["metadata"], f"{rel(path)} stores widget state (metadata.widgets)"
    assert nb["metadata"].get("kernelspec") == KERNELSPEC, \
        f"{rel(path)}: kernelspec {nb['metadata'].get('kernelspec')}, JupyterLab writes {KERNELSPEC}"
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5) and all("id" in cell for cell in nb["cells"]), \
        f"{rel(path)}: every cell needs an id (nbformat 4.5), or JupyterLab adds them on open"


@pytest.mark.parametrize("path", LECTURES + SOLUTIONS + ASSIGNMENTS, ids=rel)
def test_stored_outputs_are_final(path):
    problems = []
    for i, cell in enumerate(load(path)["cells"]):
        outputs = cell.get("outputs", [])
        streams = [out["name"] for out in outputs if out["output_type"] == "stream"]
        if len(streams) != len(set(streams)):
            problems.append(f"cell {i}: split stream outputs (JupyterLab merges them)")
        for out in outputs:
            text = "".join(out.get("text", ""))
            if out["output_type"] == "stream" and out["name"] == "stderr":
                problems.append(f"cell {i}: stderr output {text[:80]!r}")
            if re.search(r"\r(?!\n)", text):
                problems.append(f"cell {i}: carriage return in a stream (an unfinished progress bar)")
            for percent in re.findall(r"(\d+)%\|", text + "".join(out.get("data", {}).get("text/plain", ""))):
                if percent != "100":
                    problems.append(f"cell {i}: a progress bar stored at {percent}%")
            if WIDGET_MIME in out.get("data", {}):
                problems.append(f"cell {i}: a widget output (shown as text or 'model not found' without a kernel)")
            if "interactive(children=" in "".join(out.get("data", {}).get("text/plain", "")):
                problems.append(f"cell {i}: the repr of a widget instead of the hint {WIDGET_HINT!r}")
        if cell.get("metadata", {}).get("execution"):
            problems.append(f"cell {i}: execution timings in the cell metadata")
    assert not problems, f"{rel(path)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", LECTURES, ids=rel)
def test_every_slider_cell_shows_the_hint(path):
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] == "code" and "interact(" in "".join(cell["source"]):
            shown = ["".join(out.get("data", {}).get("text/plain", "")) for out in cell["outputs"]]
            assert WIDGET_HINT in shown, f"{rel(path)} cell {i}: the slider cell stores {shown}, not the hint"


def test_onegin_corpus_is_cleaned():
    """The Russian corpus of lecture 6 and assignment a5: verse lines only, no stanza numbers, tabs or notes."""
    from rnncore.datasets import clean_onegin, load_onegin

    text = load_onegin()
    lines = text.split("\n")
    assert text.startswith("«Мой дядя самых честных правил,\nКогда не в шутку занемог,")
    assert "\t" not in text and "[" not in text and "€" not in text
    assert not any(re.fullmatch(r"[IVXLC]+(\. [IVXLC]+)*\.?", line) for line in lines), "a stanza number is left"
    assert "\n\n\n" not in text, "stanzas must be separated by exactly one empty line"
    assert 130_000 < len(text) < 145_000
    assert load_onegin(lowercase=True) == text.lower()
    assert load_onegin(max_chars=50) == text[:50]
    raw = "I\n\n\t\tПервый стих,\n\t\tи Дидло5) второй[7 - примечание].\n\n\n\nII\n\n\t\tte^te\n"
    assert clean_onegin(raw) == "Первый стих,\nи Дидло второй.\n\ntete\n"
