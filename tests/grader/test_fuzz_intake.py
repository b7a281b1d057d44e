"""Property-based tests of what decodes a submission: archives, student ids, notebooks.

Hypothesis generates the inputs nobody thought of; the properties are what every input must give:
unpacking never raises and never writes outside its folder, ids never merge, and parsing, matching,
restoring and scanning a notebook never raise, whatever its JSON holds. `make test` runs a bounded
number of examples (the "ci" profile); `make fuzz` runs many more (the "fuzz" profile). Every input
class that once stopped a run is pinned here with @example.
"""
import base64
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import nbformat
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from autograder import course
from autograder.intake import collect
from autograder.intake import precheck
from autograder.intake import restore
from autograder.intake import unpack
from autograder.records import Job
from autograder.judge.worker import intake_pass
from autograder.course import Course

COURSE = Course.here()

settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

A1 = "a1_neuron"
RELEASE = json.loads((COURSE.assignments / A1 / f"{A1}.ipynb").read_text())
names = st.text(st.characters(blacklist_categories=["Cs"]), max_size=80) | st.sampled_from(
    ["", ".", "..", "/", "../x.ipynb", "a/../../b", "/etc/passwd", "a\\..\\b", "x" * 300, "a\x00b", "я.ipynb"])
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)


# --- archives ----------------------------------------------------------------------------------------------
def _zip(members, compression, damage):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    data = bytearray(buffer.getvalue())
    for offset in damage:
        if data:
            data[offset % len(data)] ^= 0xA5
    return bytes(data)


def _tar(members, mode, damage):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    data = bytearray(buffer.getvalue())
    for offset in damage:
        if data:
            data[offset % len(data)] ^= 0xA5
    return bytes(data)


members = st.lists(st.tuples(names, st.binary(max_size=2000)), max_size=6)
damage = st.lists(st.integers(min_value=0, max_value=10 ** 6), max_size=3)


@given(members=members, compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                                     zipfile.ZIP_LZMA]), damage=damage)
@example(members=[("", b"an empty member name")], compression=zipfile.ZIP_STORED, damage=[])
@example(members=[("a1_neuron.ipynb", os.urandom(1500))], compression=zipfile.ZIP_DEFLATED, damage=[60, 61, 62])
@example(members=[("a1_neuron.ipynb", os.urandom(1500))], compression=zipfile.ZIP_LZMA, damage=[60, 61, 62])
def test_unpacking_a_zip_never_raises_and_stays_in_its_folder(tmp_path_factory, members, compression, damage):
    """Whatever a zip holds (names, compression, damaged bytes): is every file extracted inside the target,
    and is everything else a reported problem, never an exception?"""
    folder = tmp_path_factory.mktemp("zip")
    archive = folder / "in.zip"
    archive.write_bytes(_zip(members, compression, damage))
    files, problems = unpack.unpack(archive, folder / "out")
    for f in files:
        assert Path(f.path).resolve().is_relative_to((folder / "out").resolve())
    assert all(isinstance(name, str) and isinstance(reason, str) for name, reason in problems)


@given(members=members, mode=st.sampled_from(["w", "w:gz", "w:bz2", "w:xz"]), damage=damage)
@example(members=[("a1_neuron.ipynb", b"{}" * 500)], mode="w:gz", damage=[10 ** 6 - 6])
def test_unpacking_a_tar_never_raises_and_stays_in_its_folder(tmp_path_factory, members, mode, damage):
    """The same for tar archives, compressed or not: a damaged checksum is a problem, not silence."""
    folder = tmp_path_factory.mktemp("tar")
    archive = folder / "in.tar.gz"
    data = _tar([(n, d) for n, d in members if n], mode, damage)
    archive.write_bytes(data)
    files, problems = unpack.unpack(archive, folder / "out")
    for f in files:
        assert Path(f.path).resolve().is_relative_to((folder / "out").resolve())
    assert all(isinstance(name, str) and isinstance(reason, str) for name, reason in problems)


# --- student ids ---------------------------------------------------------------------------------------------
raw_ids = st.text(max_size=40) | st.binary(max_size=20).map(os.fsdecode)


@given(st.lists(raw_ids, min_size=2, max_size=12, unique=True))
@example(["bob smith", collect.student_id("bob smith")])
@example([os.fsdecode(b"caf\xe9"), os.fsdecode(b"caf\xe8")])
def test_student_ids_never_merge_and_are_safe_folder_names(raws):
    """Do distinct raw ids always give distinct ids, each a safe folder name?"""
    ids = [collect.student_id(raw) for raw in raws]
    assert len(set(ids)) == len(ids)
    for sid in ids:
        assert "/" not in sid and sid not in ("", ".", "..") and len(sid) <= 64
        assert collect.SAFE_ID.fullmatch(sid) or "~" in sid


# --- notebooks -------------------------------------------------------------------------------------------------
@st.composite
def mutated_notebooks(draw):
    """The released notebook as JSON, with a few values anywhere replaced by anything JSON can hold."""
    nb = json.loads(json.dumps(RELEASE))
    for _ in range(draw(st.integers(1, 4))):
        cell = nb["cells"][draw(st.integers(0, len(nb["cells"]) - 1))]
        where = draw(st.sampled_from(["metadata.nbgrader", "metadata.nbgrader.grade_id", "metadata.nbgrader.points",
                                      "metadata.nbgrader.solution", "metadata", "source", "cell_type", "outputs", "id"]))
        target, *path, key = ["cell", *where.split(".")]
        node = cell
        for part in path:
            node = node.setdefault(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node[key] = draw(json_values)
    return nb


@given(mutated_notebooks())
@example({**RELEASE, "cells": [{**c, "metadata": {"nbgrader": "not a dict"}} for c in RELEASE["cells"]]})
@example({**RELEASE, "cells": [{**c, "metadata": {**c["metadata"], "nbgrader": {**c["metadata"].get("nbgrader", {}),
                                                                                 "grade_id": ["a", "list"]}}}
                               for c in RELEASE["cells"]]})
def test_the_intake_pass_never_raises_whatever_the_notebook_holds(tmp_path_factory, nb):
    """Parse, match, restore and scan, as the worker does: a problem list, never an exception?"""
    course_dir = tmp_path_factory.mktemp("course")
    for kind, folder in (("source", COURSE.solutions), ("release", COURSE.assignments)):
        (course_dir / kind / A1).mkdir(parents=True)
        (course_dir / kind / A1 / f"{A1}.ipynb").write_text((folder / A1 / f"{A1}.ipynb").read_text())
    data = json.dumps(nb).encode()
    job = Job("s", A1, "k", {f"{A1}.ipynb": base64.b64encode(data).decode()}, 10, 60, {})
    graded, problems = intake_pass(job, course_dir)
    assert all(p.kind for p in problems)
    for restored in graded.values():
        nbformat.validate(restored)


@given(st.binary(max_size=3000) | json_values.map(lambda v: json.dumps(v).encode()))
@example(b'{"cells": [' + b"[" * 100_000)
@example(json.dumps({"cells": [{"cell_type": "code", "source": "x = " + "-" * 100_000 + "1", "metadata": {},
                                "outputs": [], "execution_count": None}], "metadata": {}, "nbformat": 4,
                     "nbformat_minor": 5}).encode())
def test_parsing_any_bytes_gives_a_notebook_or_a_reason(data):
    """Does parse_notebook return (notebook, None) or (None, reason) for any bytes at all?"""
    nb, reason = precheck.parse_notebook(data)
    assert (nb is None) != (reason is None)
    if nb is not None:
        precheck.scan_student_code(nb, A1, nbformat.read(str(COURSE.assignments / A1 / f"{A1}.ipynb"), as_version=4))
        restore.restore(nb, nbformat.read(str(COURSE.assignments / A1 / f"{A1}.ipynb"), as_version=4), A1)
