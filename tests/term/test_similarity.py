"""The similarity report: planted copies are found, independent correct solutions are not flagged.

Planted: three independent solutions of a3_rnn_bptt (tests/term/similarity_solutions.py, checked here against
rnncore numerically) and copies of them with renamed variables, changed comments and reordered
statements; rnncore's own code with renamed variables. At class scale: the a3 notebooks of the synthetic
200-student class (tests/term/synthetic_class.py), in which ten students hand in disguised copies of three others.
"""
import random
import shutil

import nbformat
import numpy as np
import pytest

import similarity_solutions as planted
from autograder import cli, course
from autograder.term import similarity
from autograder.course.samples import HONEST, filled
from autograder.course import Course

COURSE = Course.here()

A3 = "a3_rnn_bptt"


def hand_in(folder, student, bodies=None, notebook=None):
    target = folder / student / A3
    target.mkdir(parents=True)
    nbformat.write(notebook or filled(A3, dict(bodies or {})), str(target / f"{A3}.ipynb"))


@pytest.fixture(scope="module")
def planted_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planted")
    for variant, bodies in planted.INDEPENDENT.items():
        hand_in(folder, variant, bodies)
    hand_in(folder, "copy_of_loops", planted.disguised("loops", {"rename"}))
    hand_in(folder, "copy_of_einsum", planted.disguised("einsum", {"rename", "comments", "reorder"}))
    hand_in(folder, "copy_of_matmul", planted.disguised("matmul", {"comments", "reorder"}))
    hand_in(folder, "from_rnncore", planted.rnncore_bodies())
    for student in ("untouched_1", "untouched_2"):
        hand_in(folder, student, notebook=nbformat.read(str(COURSE.assignments / A3 / f"{A3}.ipynb"), as_version=4))
    return folder


@pytest.fixture(scope="module")
def report(planted_folder):
    return similarity.check(planted_folder)


@pytest.mark.parametrize("variant", list(planted.INDEPENDENT))
def test_independent_solutions_are_correct(variant, rng):
    """Each independent solution computes what rnncore computes (so they are honest solutions, not strawmen)."""
    import matplotlib
    import rnncore
    namespace = {"np": np}
    for cell, body in planted.INDEPENDENT[variant].items():
        if cell == "explore_gradient_norms":
            continue
        signature = {"rel_error": "a, b", "numeric_gradient": "f, x, dout, h=1e-6",
                     "rnn_step_forward": "x, prev_h, Wx, Wh, b", "rnn_step_backward": "dnext_h, cache",
                     "rnn_forward": "x, h0, Wx, Wh, b", "rnn_backward": "dh, cache", "clip_by_value": "grads, limit",
                     "clip_by_global_norm": "grads, max_norm", "hidden_gradient_norms": "x, h0, Wx, Wh, b"}[cell]
        exec(f"def {cell}({signature}):\n" + "\n".join("    " + line for line in body.splitlines()), namespace)
    del matplotlib
    N, T, D, H = 3, 5, 4, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, H)) / 2, rng.standard_normal((H, H)) / 3, rng.standard_normal(H)
    dh = rng.standard_normal((N, T, H))
    h, cache = namespace["rnn_forward"](x, h0, Wx, Wh, b)
    ref_h, ref_cache = rnncore.rnn_forward(x, h0, Wx, Wh, b)
    assert np.allclose(h, ref_h)
    for ours, ref in zip(namespace["rnn_backward"](dh, cache), rnncore.rnn_backward(dh, ref_cache)):
        assert np.allclose(ours, ref)
    grads = {"W": rng.standard_normal((3, 3)) * 5, "b": rng.standard_normal(3)}
    assert all(np.allclose(namespace["clip_by_value"](grads, 1.0)[k], np.clip(grads[k], -1, 1)) for k in grads)
    clipped, norm = namespace["clip_by_global_norm"](grads, 1.0)
    assert np.isclose(norm, np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    assert np.isclose(np.sqrt(sum(np.sum(g ** 2) for g in clipped.values())), 1.0)
    numeric = namespace["numeric_gradient"](lambda v: np.tanh(v), Wx.copy(), np.ones_like(Wx))
    assert np.allclose(numeric, 1 - np.tanh(Wx) ** 2, atol=1e-8)
    assert namespace["rel_error"](np.zeros(3), np.zeros(3)) == 0.0
    assert np.isclose(namespace["rel_error"](Wx, 2 * Wx), 1 / 3)
    norms = namespace["hidden_gradient_norms"](x, h0, Wx, Wh, b)
    assert norms.shape == (T + 1,) and np.isclose(norms[T], np.sqrt(N * H))


def pair(report, a, b):
    found = [m for m in report.pairs if {m.first, m.second} == {a, b}]
    return found[0] if found else None


@pytest.mark.parametrize("copy, source", [("copy_of_loops", "loops"), ("copy_of_einsum", "einsum"),
                                          ("copy_of_matmul", "matmul")])
def test_planted_copies_are_found_with_their_source(report, copy, source):
    match = pair(report, copy, source)
    assert match is not None and match.score >= 0.8, match
    assert "<mark>" in match.first_view and "<mark>" in match.second_view
    assert [set(g) for g in report.clusters(A3) if copy in g] == [{copy, source}]


def test_independent_solutions_are_not_flagged(report):
    independent = list(planted.INDEPENDENT)
    for i, a in enumerate(independent):
        for b in independent[i + 1:]:
            assert pair(report, a, b) is None
        assert not [m for m in report.references if m.first == a]
    assert len(report.pairs) == 3                 # each copy with its source, nothing else
    assert not [m for m in report.pairs if "from_rnncore" in (m.first, m.second)]


def test_independent_solutions_stay_well_below_the_threshold(planted_folder):
    """Not just below: the closest two independent solutions share less than 40 % of their code."""
    low = similarity.check(planted_folder, threshold=0.01, min_overlap=1)
    independent = list(planted.INDEPENDENT)
    scores = [m.score for m in low.pairs if m.first in independent and m.second in independent]
    assert scores and max(scores) < 0.4
    refs = [m.first_similarity for m in low.references if m.first in independent]
    assert max(refs) < 0.3


def test_copy_of_rnncore_is_flagged_against_rnncore(report):
    found = {m.second: m for m in report.references if m.first == "from_rnncore"}
    assert "rnncore" in found and found["rnncore"].first_similarity >= 0.7
    assert "# --- rnncore/rnn.py ---" in found["rnncore"].second_view        # the module is named beside the match


def test_starter_code_is_never_similar(report):
    assert sorted(report.empty[A3]) == ["untouched_1", "untouched_2"]
    assert not [m for m in report.pairs if "untouched" in m.first + m.second]
    assert report.documents[A3] == 9


def test_reordered_functions_are_still_found():
    """Cells in another order (a student who pastes the functions in a different order into one cell): the same
    fingerprints, so the same similarity."""
    ids = similarity.solution_ids(A3)
    nb = filled(A3, dict(planted.INDEPENDENT["loops"]))
    cells = similarity._cells(nb)
    order = list(ids[A3])
    random.Random(1).shuffle(order)
    boilerplate = similarity._boilerplate(similarity.starter_text(A3), similarity.NOISE)
    docs = []
    for name, cell_order in (("original", ids[A3]), ("shuffled", order)):
        doc = similarity.Document(name, A3, similarity._code(cells, cell_order))
        doc.fingerprint = similarity._fingerprint(name, doc.text, boilerplate, similarity.NOISE, similarity.GUARANTEE)
        docs.append(doc)
    first, second, tokens, _, _ = similarity.compare(*docs)
    assert order != list(ids[A3]) and first > 0.95 and second > 0.95 and tokens > 500


def test_html_report_escapes_the_students_code(tmp_path):
    evil = 'return "</pre><script>alert(1)</script>"  # ' + "x = np.tanh(x @ Wx + prev_h @ Wh + b)\n" * 3
    bodies = dict(planted.INDEPENDENT["loops"], rel_error=evil + planted.INDEPENDENT["loops"]["rel_error"])
    hand_in(tmp_path / "in", "a", bodies)
    hand_in(tmp_path / "in", "b", bodies)
    page = similarity.write(similarity.check(tmp_path / "in"), tmp_path / "out")
    text = page.read_text()
    assert "<script>" not in text and "&lt;/pre&gt;&lt;script&gt;" in text
    data = (tmp_path / "out" / "similarity.json").read_text()
    assert '"first": "a"' in data and '"clusters"' in data


def test_cli_similarity(planted_folder, tmp_path, capsys):
    assert cli.main(["similarity", str(planted_folder), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{A3}: 9 submissions, 3 similar pair(s)" in out and (tmp_path / "similarity.html").exists()
    assert cli.main(["similarity", str(tmp_path / "nothing")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert cli.main(["similarity", str(planted_folder), "--threshold", "5"]) == 2


@pytest.mark.slow
def test_class_of_200_copies_are_grouped_with_their_sources(tmp_path):
    """The synthetic class's a3 notebooks: perfect students hand in the reference solution (clones: they form one
    group, and match the reference solution), partial ones a variant of it, untouched ones the release; three
    students hand in independent solutions that ten others copied, disguised."""
    import synthetic_class as term_class
    _, students = term_class.synthetic_class()
    copies = term_class.write_notebooks(tmp_path / "class", students)
    found = similarity.check(tmp_path / "class", [A3])
    groups = [set(g) for g in found.clusters(A3)]
    for source, variant in copies.items():
        copiers = {s.id for s in students if s.copied_from == source}
        assert copiers and {source} | copiers in groups, (source, variant)
    untouched = {s.id for s in students if s.templates.get(A3) == "untouched"}
    assert untouched and untouched <= set(found.empty[A3])
    clones = {s.id for s in students if s.templates.get(A3) in ("perfect", "partial_a3") and s.id not in copies
              and s.profile != "copied"}
    assert clones in groups
    assert {m.first for m in found.references if m.second == "solution"} == clones
    assert len(groups) == 1 + len(copies)
