"""Grading on a Dask cluster (`grade --cluster local:N` / `--scheduler tcp://...`), on loopback only.

The same submissions must get the same grades as with the local pool (`--jobs N`), hostile ones
included; a worker that dies mid-task costs a retry, and a second death a recorded grader-error,
never a lost submission.
"""
import os
import shutil
import signal
import threading
import time

import pytest

from autograder.pipeline import executors
from autograder.pipeline import grade
from autograder.course.samples import HONEST, HOSTILE, honest_samples, hostile_samples
from grading_helpers import assert_sample_graded_as_specified, grades_by_submission, problem_kinds, require_sandbox, run_grading

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed", reason="needs dask.distributed: pip install 'rnncore[cluster]'")

A1 = "a1_neuron"
SAMPLES = {**honest_samples(), **hostile_samples()}
SAME_AS_LOCAL = ["kernel_crash", "infinite_loop", "partly_wrong", "gradebook_attack", "patches_helpers"]


def _copy_samples(target, students):
    for student in students:
        source = HOSTILE / student if (HOSTILE / student).is_dir() else HONEST / student
        shutil.copytree(source, target / student)


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory):
    """Every honest and hostile sample (perfect: a1 and a4 only), graded with --cluster local:2."""
    require_sandbox(tmp_path_factory.mktemp("probe"))
    submissions = tmp_path_factory.mktemp("submissions")
    _copy_samples(submissions, [s for s in SAMPLES if s != "perfect"])
    for assignment in (A1, "a4_lstm_gru"):
        shutil.copytree(HONEST / "perfect" / assignment, submissions / "perfect" / assignment)
    out = tmp_path_factory.mktemp("dask-out")
    summary = run_grading(submissions, out, timeout=25, cluster="local:2", allow_unsandboxed=False)
    return out, summary


def test_every_sample_gets_its_expected_grades_on_the_cluster(on_cluster):
    """Graded on Dask workers, does every honest and hostile sample get exactly its expected scores and problems
    (the same expectations the local pool is held to)?"""
    out, summary = on_cluster
    assert summary["executor"] == "dask" and summary["sandbox"] == "bubblewrap"
    for student, sample in SAMPLES.items():
        if student == "perfect":
            continue
        assert_sample_graded_as_specified(out, student, sample)
    rows = grades_by_submission(out)
    assert rows[("perfect", A1)]["score"] == rows[("perfect", "a4_lstm_gru")]["score"] == 100
    assert not [p for p in summary["problems"] if p["kind"] == "grader-error"]


def test_the_local_pool_gives_identical_grades(on_cluster, tmp_path):
    """Do --jobs 1 and --cluster local:2 give the same row, part by part, for hostile and broken submissions?"""
    out, _ = on_cluster
    submissions = tmp_path / "submissions"
    _copy_samples(submissions, SAME_AS_LOCAL)
    run_grading(submissions, tmp_path / "local", jobs=1, timeout=25)
    local, dask = grades_by_submission(tmp_path / "local"), grades_by_submission(out)
    for student in SAME_AS_LOCAL:
        assert local[(student, A1)] == dask[(student, A1)], student
        assert problem_kinds(tmp_path / "local", student, A1) == problem_kinds(out, student, A1), student


def test_feedback_comes_back_from_the_workers(on_cluster):
    """Do the workers' feedback files reach the grader's feedback folder (no shared file system needed)?"""
    out, _ = on_cluster
    html = (out / "feedback" / "partly_wrong" / A1 / f"{A1}.html").read_text()
    assert "test_softmax" in html and "BEGIN HIDDEN TESTS" not in html


class WorkerKiller(threading.Thread):
    """Kills the Dask worker that is running a student's task, `times[student]` times."""

    def __init__(self, cluster, times):
        super().__init__(daemon=True)
        self.client = distributed.Client(cluster)
        self.times, self.killed, self.stop = dict(times), {s: 0 for s in times}, threading.Event()

    def run(self):
        while not self.stop.is_set():
            victim = self._running_victim()
            if victim:
                student, address = victim
                pid = self.client.run(os.getpid, workers=[address]).get(address)
                try:
                    os.kill(pid, signal.SIGKILL)
                    self.killed[student] += 1
                except (ProcessLookupError, TypeError):          # gone already: look again
                    pass
                time.sleep(1.0)                                   # let the scheduler see the death
            time.sleep(0.2)

    def _running_victim(self):
        """(student, worker address) of a task still to be killed that a worker is running now, or None."""
        for address, keys in self.client.processing().items():
            for student, times in self.times.items():
                if self.killed[student] < times and any(k[1].startswith(f"{student}/") for k in keys):
                    return student, address
        return None

    def close(self):
        self.stop.set()
        self.join(10)
        self.client.close()


def test_a_worker_killed_mid_task_costs_a_retry_then_a_recorded_error(tmp_path):
    """One worker death: is the submission graded on the retry, fully? Two deaths: is it recorded as a
    grader-error with 0 points, while every other submission is graded as usual?"""
    require_sandbox(tmp_path / "probe")
    submissions = tmp_path / "submissions"
    students = ["once", "twice", "bystander1", "bystander2", "bystander3", "bystander4"]   # more than 2 x 2 threads
    for student in students:
        shutil.copytree(HONEST / "perfect" / A1, submissions / student / A1)
    cluster = executors.local_cluster(2)
    killer = WorkerKiller(cluster, {"once": 1, "twice": 2})
    killer.start()
    try:
        summary = run_grading(submissions, tmp_path / "out", timeout=25, scheduler=cluster.scheduler_address,
                              allow_unsandboxed=False)
    finally:
        killer.close()
        cluster.close()
    assert killer.killed == {"once": 1, "twice": 2}
    rows = grades_by_submission(tmp_path / "out")
    assert rows[("twice", A1)]["score"] == 0
    assert [rows[(s, A1)]["score"] for s in students if s != "twice"] == [100] * 5
    errors = [p for p in summary["problems"] if p["kind"] == "grader-error"]
    assert [p["student"] for p in errors] == ["twice"] and "worker died" in errors[0]["detail"]
    assert {s["student"] for s in summary["submissions"]} == set(students)


def test_a_cluster_without_workers_ready_to_grade_is_refused(tmp_path):
    """Workers started as daemons (Dask's default) cannot start grading processes: does grade refuse,
    name each worker and say how to start them, and write nothing?"""
    import dask
    with dask.config.set({"distributed.worker.daemon": True}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None) as cluster:
        settings = grade.Settings(out=tmp_path / "out", scheduler=cluster.scheduler_address, progress=False)
        with pytest.raises(grade.SandboxUnavailable, match="(?s)REFUSING.*tcp://127.0.0.1.*DAEMON=False"):
            grade.grade(HONEST, settings)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path):
    """Does an address where no scheduler listens give one message that names it, and write nothing?"""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                           # free once closed: nothing listens there
    settings = grade.Settings(out=tmp_path / "out", scheduler=f"tcp://127.0.0.1:{port}", progress=False)
    with pytest.raises(grade.GradingError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        grade.grade(HONEST, settings)
    assert not (tmp_path / "out").exists()
