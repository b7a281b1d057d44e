"""nbgrader's Execute preprocessor, made to keep grades when a submission misbehaves.

Plain nbgrader loses the whole submission when the kernel dies (DeadKernelError): it deletes
the autograded folder and records no grade. SafeExecute instead
- records a KernelDied error in the cell that was running and a NotRun error in every later
  code cell, so the cells that ran keep their grades and the rest score zero;
- stops a kernel that ignores the interrupt sent at a cell timeout, treating it like a dead
  kernel (a kernel that obeys the interrupt goes on with the next cell);
- keeps at most `max_output_bytes` of output per cell, so a submission that prints a gigabyte
  cannot exhaust the grader's memory.
"""
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
TIMEOUT = "CellTimeoutError"


def _error(ename, evalue):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class SafeExecute(Execute):
    max_output_bytes = Integer(2_000_000, help="Output kept per cell; the rest is dropped.").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", AsyncKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._dead = None                    # why the kernel is gone, once it is
        self._output_bytes = {}
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._dead:
            cell.outputs = [_error(NOT_RUN, f"{self._dead} in an earlier cell")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._dead = "the kernel died (crash, exit or memory limit)"
            cell.outputs.append(_error(KERNEL_DIED, "the kernel died while running this cell"))
            self.nb.cells[index] = cell
            return cell, resources
        except CellTimeoutError:                          # still busy after the interrupt: it ignores it
            self._dead = "the kernel ignored the interrupt after a timeout"
            cell.outputs.append(_error(TIMEOUT, f"no reply within {self.timeout} s, even after an interrupt"))
            self.nb.cells[index] = cell
            self._stop_kernel()
            return cell, resources
        return cell, resources

    def _stop_kernel(self):
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()                                # the sandbox dies with its launcher

    def output(self, outs, msg, display_id, cell_index):
        size = len(str(msg.get("content", "")))
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:                 # note the cut once
            note = new_output("stream", name="stdout",
                              text=f"\n[grader] output-truncated: more than {self.max_output_bytes} bytes of output\n")
            outs.append(note)
        return None
