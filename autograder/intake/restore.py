"""The notebook that is graded: the released notebook, with only the student's own work put in.

A submission may have been edited anywhere: locked cells changed, test cells deleted or stripped of
their nbgrader metadata, cells moved, cells added above the setup cell, a solution cell marked
locked. None of that may reach the grader. `restore` builds the notebook to grade from the release
(assignments/<assignment>/<notebook>.ipynb), in the release's order and with the release's metadata:
- each solution cell gets the source of the student's cell with the same grade_id (the stub stays
  if there is none);
- every other released cell (instructions, the setup cell, given code, test cells) is the release's;
- the student's own cells (no known grade_id) are kept, without any nbgrader metadata, after the
  released cell they followed; one that came before the setup cell goes right after it. Released
  cells without a grade_id (a free-text answer cell, say) are the student's to edit: their copies
  in the submission are the student's own cells.
Every difference is reported as a Problem; nothing is refused silently.
"""
import copy
import uuid

import nbformat
from nbgrader.utils import compute_checksum, is_grade, is_locked, is_solution

from ..records import Problem

SETUP = "setup"


def grade_id(cell):
    """The cell's nbgrader grade_id, or None (also for metadata that is not nbgrader's shape)."""
    nbgrader = cell.get("metadata", {}).get("nbgrader")
    value = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return value if isinstance(value, str) and value else None


def restore(submission, release, notebook_id):
    """(notebook to grade, [Problem]) for a submitted notebook and the released one."""
    problems = []
    released_ids = [grade_id(c) for c in release.cells if grade_id(c)]
    kinds = {grade_id(c): c for c in release.cells if grade_id(c)}
    theirs, added, anchor = {}, {}, None                   # added: {anchor grade_id or None: [cells]}
    for cell in submission.cells:
        gid = grade_id(cell)
        if gid in kinds and gid not in theirs:
            theirs[gid] = cell
            anchor = gid
            continue
        if gid in kinds:
            problems.append(Problem("duplicate-cell", f"a second cell {gid} was graded as the student's own cell", notebook_id))
        added.setdefault(anchor, []).append(_own_cell(cell))
    setup_at = released_ids.index(SETUP) if SETUP in released_ids else -1
    early = [c for a in [None, *released_ids[:setup_at]] for c in added.pop(a, [])] if setup_at >= 0 else []
    if early:
        problems.append(Problem("cell-above-setup", f"{len(early)} cell(s) of the student's were above the setup "
                                                    "cell; they run after it", notebook_id))
    cells = []
    for released in (c for c in release.cells if grade_id(c)):
        gid = grade_id(released)
        cell = copy.deepcopy(released)
        mine = theirs.get(gid)
        if is_solution(released):
            if mine is None:
                problems.append(Problem("deleted-solution-cell", f"{gid} was deleted; graded as the unsolved stub",
                                        notebook_id))
            else:
                cell.source = mine.source
        elif is_locked(released) or is_grade(released):
            problems += _changes(released, mine, notebook_id)
        cells.append(cell)
        cells += added.pop(gid, [])
        if gid == SETUP:
            cells += early
    for leftover in added.values():                        # anchors that are not released cells: keep at the end
        cells += leftover
    graded = nbformat.v4.new_notebook(metadata=copy.deepcopy(release.metadata), cells=cells)
    _unique_ids(graded)
    return graded, problems


def _own_cell(cell):
    """A cell of the student's, with no nbgrader metadata (it grades nothing and is not trusted)."""
    own = copy.deepcopy(cell)
    own.metadata.pop("nbgrader", None)
    return own


def _changes(released, mine, notebook_id):
    kind = "test-cell" if is_grade(released) else "locked-cell"
    gid = grade_id(released)
    if mine is None:
        return [Problem(f"deleted-{kind}", f"{gid} was deleted; restored from the release", notebook_id)]
    try:
        same = compute_checksum(mine) == compute_checksum(released)
    except Exception:                                       # the copy's nbgrader metadata is not nbgrader's
        same = False
    if not same:
        return [Problem(f"edited-{kind}", f"{gid} was edited; restored from the release", notebook_id)]
    return []


def _unique_ids(nb):
    seen = set()
    for cell in nb.cells:
        if not cell.get("id") or cell.id in seen:
            cell.id = uuid.uuid4().hex[:8]
        seen.add(cell.id)
