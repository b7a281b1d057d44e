"""Every graded test of every assignment passes the reference, whatever seed grading draws.

A hidden test draws its inputs from `fresh_rng()`, seeded anew at every grading. A test that fails the
reference for some seeds costs a perfect submission points with no problem reported (a5's
test_max_pool_backward did, for 17 seeds in 20,000: ties where the maximum is not differentiable). Here
the source notebook's code (the reference answers) runs in this process, every test cell's visible part
once and its hidden part for 300 seeds (SEEDS_N=20000 for a deeper run), fresh_rng returning each in turn;
a hidden part slower than BUDGET / 300 seconds a seed (a6's test_beam_decode trains a toy model) runs for as
many seeds as fit in BUDGET, and never fewer than MIN_SEEDS.
"""
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from autograder.course import Course, audit

COURSE = Course.here()

pytestmark = pytest.mark.slow
SEEDS = range(int(os.environ.get("SEEDS_N", 300)))
BUDGET = 5.0                                        # seconds of seeds per test (after the first)
MIN_SEEDS = 50
KNOWN = {"a5_charlm_birnn": [1440523028]}          # seeds that once failed a test, kept for good


def failures(task):
    """[(seed, message)] of the seeds for which one test fails the reference (empty: none)."""
    assignment_id, test = task
    a = audit.load(assignment_id)
    namespace = audit.reference_namespace(a)
    before, rest = audit.split_hidden(a.tests[test])
    try:
        compile(before, test, "exec")
    except SyntaxError:                         # a hidden block inside a block (a test made of parts): all of it
        before, rest = "", a.tests[test]
    outcome = audit.run_cell(namespace, test, before)
    assert outcome.fraction == 1, f"{assignment_id}/{test}: the visible part fails the reference: {outcome.message}"
    found = []
    seeds = [*KNOWN.get(assignment_id, []), *SEEDS]
    count, started = len(seeds), time.perf_counter()
    for k, seed in enumerate(seeds):
        if k == count:
            break
        outcome = audit.run_cell(dict(namespace), test, rest, seed)
        if outcome.fraction < 1:
            found.append((seed, outcome.message[:300]))
        if k == 0:                                   # the first seed tells how many fit in the budget
            count = min(count, 1 + max(MIN_SEEDS, int(BUDGET / max(time.perf_counter() - started, 1e-9))))
    return found


def test_every_graded_test_passes_the_reference_for_every_seed():
    tasks = [(a, t) for a in COURSE.assignment_ids for t in audit.load(a).tests]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = dict(zip(tasks, pool.map(failures, tasks)))
    failed = {f"{a}/{t}": cases[:3] for (a, t), cases in results.items() if cases}
    assert not failed, f"tests that fail the reference for some seeds: {failed}"


def test_the_seed_reaches_the_hidden_tests():
    """Does fresh_rng really draw from the seed given (else this file would test one seed 1,000 times)?"""
    a = audit.load("a1_neuron")
    namespace = audit.reference_namespace(a)
    drawn = []
    namespace["record"] = drawn.append
    for seed in (3, 4, 3):
        audit.run_cell(namespace, "probe", "rng, seed = fresh_rng()\nrecord((seed, rng.random()))", seed)
    assert drawn[0] == drawn[2] != drawn[1] and drawn[0][0] == 3 and np.isfinite(drawn[0][1])
