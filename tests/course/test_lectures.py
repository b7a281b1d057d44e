"""The lecture and assignment notebooks as files: one vocabulary, and nothing for JupyterLab to rewrite.

Vocabulary: lectures/GLOSSARY.md picks one Russian term per notion; the synonyms it lists must not
appear in the lectures or in the text of the assignments.
Clean files: a notebook opened in JupyterLab must not show as modified (JupyterLab rewrites the kernelspec
display name, widget state, streams with carriage returns, split stream outputs, missing cell ids), and a
stored output must not show what only a running kernel can show (a widget) or a half-done progress bar.
"""
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
NOT_CYRILLIC = r"(?<![а-яё])"

# synonym (regex, case-insensitive) -> the glossary's term
SYNONYMS = {
    NOT_CYRILLIC + r"ворот(?:а|ам|ами|ах)?(?![а-яё])": "фильтр",
    NOT_CYRILLIC + r"гейт": "фильтр",
    NOT_CYRILLIC + r"вентил": "фильтр",
    NOT_CYRILLIC + r"затвор": "фильтр",
    NOT_CYRILLIC + r"сдвиг": "смещение",
    r"температур[а-яё]*\s+\$T\b": "\\tau",                    # temperature: T is the number of steps
    r"softmax\}?\(z\s*/\s*T\)": "\\tau",
}


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def text_cells(path):
    """(index, source) of the cells whose words a reader sees: every lecture cell, markdown cells of assignments."""
    nb = load(path)
    lecture = path.parent.name == "lectures"
    return [(i, "".join(cell["source"])) for i, cell in enumerate(nb["cells"])
            if lecture or cell["cell_type"] == "markdown"]


def rel(path):
    return str(path.relative_to(ROOT))


def test_notebooks_found():
    """Guard against a glob that silently matches nothing."""
    assert len(LECTURES) >= 6 and len(SOLUTIONS) >= 5 and len(ASSIGNMENTS) >= 5


def test_glossary_names_every_chosen_term():
    text = GLOSSARY.read_text(encoding="utf-8")
    for term in set(SYNONYMS.values()):
        assert term in text, f"GLOSSARY.md does not mention the chosen term {term!r}"


@pytest.mark.parametrize("path", LECTURES + SOLUTIONS + ASSIGNMENTS, ids=rel)
def test_no_glossary_synonyms(path):
    found = [f"cell {i}: {match.group(0)!r} (the glossary says {term!r})"
             for i, source in text_cells(path)
             for pattern, term in SYNONYMS.items()
             for match in re.finditer(pattern, source, flags=re.IGNORECASE)]
    assert not found, f"{rel(path)} uses words lectures/GLOSSARY.md replaces:\n" + "\n".join(found)


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
