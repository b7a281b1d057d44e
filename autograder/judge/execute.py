"""nbgrader's Execute preprocessor, with the verdict of every test cell decided outside the kernel.

`JudgedExecute` runs a submission cell by cell:
- the student's cells and the given cells run in the sandboxed kernel, as nbgrader would run them,
  their outputs capped (every kind of output message counts, per cell and per notebook);
- a graded test cell never runs in the kernel: its source (the instructor's, from the source
  notebook) runs in this trusted process (autograder.judge.verdict), calling the student's functions in the
  kernel through autograder.judge.remote; the cell's outputs are then written from the verdict, so
  nbgrader's SaveAutoGrades gives full points exactly when the grader saw the test pass;
- when the kernel dies (crash, exit, memory limit) or ignores an interrupt, the cells that ran keep
  their verdicts and every later code cell gets a NotRun error: nothing is lost, nothing is re-run.
Everything the grader observes (timeouts, a dead kernel, truncated output, each verdict) is written
to `observations_path` as `records.Observation`s (JSON lines) for the worker.
"""
import time

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from jupyter_client.kernelspec import KernelSpecManager
from traitlets import Dict, Integer, List, Unicode

from ..intake import restore
from ..records import Observation
from . import remote, verdict

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
TIMEOUT = "CellTimeoutError"
OUTPUT_MESSAGES = {"stream", "display_data", "update_display_data", "execute_result", "error"}


def _error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def payload_bytes(value):
    """UTF-8 bytes of the strings in a message's content (what storing it would cost)."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace"))
    if isinstance(value, dict):
        return sum(payload_bytes(k) + payload_bytes(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(payload_bytes(v) for v in value)
    return 8


class JudgedExecute(Execute):
    tests = Dict(help="{notebook id: {grade_id: source}} of the graded test cells, from the source notebooks").tag(config=True)
    preludes = Dict(help="{notebook id: [source]} run in the trusted namespace before the tests").tag(config=True)
    max_output_bytes = Integer(2_000_000, help="Bytes of output kept per cell; the rest is dropped.").tag(config=True)
    max_notebook_output_bytes = Integer(8_000_000, help="Bytes of output kept per notebook.").tag(config=True)
    observations_path = Unicode("", help="Where to write what the grader observed (JSON lines).").tag(config=True)
    kernel_dirs = List(Unicode(), help="Folders of kernelspecs (the sandbox's) to look in instead of Jupyter's").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", AsyncKernelManager)
        super().__init__(*args, **kwargs)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if self.kernel_dirs:                          # the job's own kernelspec, and no other
            km.kernel_spec_manager = KernelSpecManager(kernel_dirs=list(self.kernel_dirs), ensure_native_kernel=False)
        return km

    # --- one notebook ---------------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        self._notebook = (resources or {}).get("unique_key", "")
        self._dead = None                    # why the kernel is gone, once it is
        self._not_run_noted = False
        self._cell_bytes, self._total_bytes, self._truncated = {}, 0, set()
        self._namespace, self._remote = None, None
        self._observations = []
        try:
            return super().preprocess(nb, resources, km)
        finally:
            if self._remote is not None:
                self._remote.channel.stop_channels()
                self._remote.channel.context.term()
            self._write_observations()

    def note(self, kind, detail, grade_id="", verdict=None):
        self._observations.append(Observation(self._notebook, kind, grade_id, detail, verdict))

    def _write_observations(self):
        if self.observations_path:
            with open(self.observations_path, "a") as f:
                for item in self._observations:
                    f.write(item.to_json() + "\n")

    def start_new_kernel_client(self):
        kc = super().start_new_kernel_client()
        seal = getattr(self.km.provisioner, "seal", None)
        if seal is not None:                         # the kernel's sockets exist now: no more files in there
            seal()
        return kc

    # --- one cell ---------------------------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        grade_id = restore.grade_id(cell) or ""
        tests = self.tests.get(self._notebook, {})
        if self._dead:
            cell.outputs = [_error(NOT_RUN, f"{self._dead} in an earlier cell")]
            if not self._not_run_noted:
                self._not_run_noted = True
                self.note("not-run", f"{grade_id or 'a cell'} and the cells after it were not run: {self._dead}", grade_id)
            return cell, resources
        if grade_id in tests:
            points = cell.metadata.get("nbgrader", {}).get("points")
            cell.outputs = verdict.verdict_outputs(self._judge(grade_id, tests[grade_id]), points)
            return cell, resources
        return self._run_in_kernel(cell, resources, index)

    def _judge(self, grade_id, source):
        if self._namespace is None:
            self._namespace = verdict.trusted_namespace(self.preludes.get(self._notebook, []))
        kernel = self._kernel()
        kernel.deadline = time.monotonic() + self.timeout
        decided = verdict.judge(grade_id, source, self._namespace, kernel)
        self.note("verdict", "", grade_id, {"passed": decided.passed, "message": decided.message, "parts": decided.parts,
                                            "seconds": round(decided.seconds, 4), "requests": kernel.requests})
        if decided.timed_out:
            self.note("timeout", f"{grade_id}: the student's code ran past {self.timeout} s", grade_id)
        if decided.kernel_died:
            self._dead = decided.message or "the kernel died"
            if not decided.timed_out:
                self.note("kernel-died", f"{grade_id}: {self._dead}", grade_id)
            self._stop_kernel()
        return decided

    def _kernel(self):
        """The Remote of this notebook's kernel: a second client of our own, on shell and stdin only."""
        if self._remote is None:
            channel = remote.connect(self.km.get_connection_info())
            self._remote = remote.Remote(channel, run_sync(self.km.interrupt_kernel), run_sync(self.km.is_alive))
        return self._remote

    def _run_in_kernel(self, cell, resources, index):
        grade_id = restore.grade_id(cell) or "a cell of the student's"
        started = time.monotonic()
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._dead = "the kernel died (crash, exit or memory limit)"
            cell.outputs.append(_error(KERNEL_DIED, "the kernel died while running this cell"))
            self.note("kernel-died", f"the kernel died in {grade_id}", grade_id)
        except CellTimeoutError:                         # still busy after the interrupt: it ignores it
            self._dead = "the kernel ignored the interrupt after a timeout"
            cell.outputs.append(_error(TIMEOUT, f"no reply within {self.timeout} s, even after an interrupt"))
            self.note("timeout", f"{grade_id} ran past {self.timeout} s and ignored the interrupt", grade_id)
            self._stop_kernel()
        else:                                            # measured here: an error the cell prints proves nothing
            if time.monotonic() - started >= self.timeout:
                self.note("timeout", f"{grade_id} ran past {self.timeout} s and was interrupted", grade_id)
        self.nb.cells[index] = cell
        return cell, resources

    def _stop_kernel(self):
        if self.km is not None:
            run_sync(self.km.shutdown_kernel)(now=True)         # the sandbox dies with its launcher

    # --- output caps: every message that carries output counts -----------------------------------------
    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] in OUTPUT_MESSAGES:
            size = payload_bytes(msg["content"])
            used = self._cell_bytes.get(cell_index, 0) + size
            self._cell_bytes[cell_index] = used
            if used > self.max_output_bytes:
                return self._note_truncation(cell, cell_index, self.max_output_bytes)
            if self._total_bytes + size > self.max_notebook_output_bytes:
                return self._note_truncation(cell, cell_index, self.max_notebook_output_bytes)
            self._total_bytes += size                     # only what is kept counts towards the notebook's total
        return super().process_message(msg, cell, cell_index)

    def _note_truncation(self, cell, cell_index, limit):
        """Drop a message; say so once per cell, in the cell and in the observations."""
        if cell_index in self._truncated:
            return None
        self._truncated.add(cell_index)
        cell.outputs.append(new_output("stream", name="stdout", text=f"\n[output cut: more than {limit} bytes]\n"))
        grade_id = restore.grade_id(cell) or "a cell of the student's"
        self.note("output-truncated", f"{grade_id}: more than {limit} bytes of output; the rest was dropped", grade_id)
        return None
