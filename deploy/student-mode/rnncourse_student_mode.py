"""Jupyter server pieces of the course's student mode: Validate knows lectures from assignments, and
a notebook stored read-only stays read-only.

nbgrader's Validate button sits on every notebook's toolbar. On a lecture (a notebook without a
single nbgrader test cell) nbgrader re-runs the whole notebook and then reports «Success! Your
notebook passes all the tests», which a student takes for a verdict. This extension serves the
same two routes as nbgrader's `validate_assignment` server extension (which the student mode
disables): assignments are validated by nbgrader exactly as before; any other notebook gets a
short message instead, without running it.

Enable it with `"ServerApp": {"jpserver_extensions": {"rnncourse_student_mode": true}}` and
disable `nbgrader.server_extensions.validate_assignment` (deploy/student-mode/install.py does both).

The student edition stores its lectures without write permission. JupyterLab's autosave and its
Save command leave a file alone when the server reports it not writable, but the server asks the
operating system, and for root every file is writable. `ReadOnlyContentsManager` reports a file
without any write bit as not writable whoever runs the server, and refuses to overwrite it (with
a message that says how to keep a copy); install.py makes it the server's contents manager.
"""
import stat
from pathlib import Path

import nbformat
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.validate_assignment.handlers import (
    NbGraderVersionHandler,
    ValidateAssignmentHandler,
)
from tornado import web

NOT_AN_ASSIGNMENT = (
    "В этом блокноте нет тестов nbgrader: это не задание, проверять в нём нечего.\n"
    "Validate проверяет задания (папка assignments/ или список Assignments).\n"
    "Лекцию просто выполните: Run → Run All Cells."
)


READ_ONLY = ("{name} открыт только для чтения: лекции не меняются, ни при автосохранении, ни по Validate "
             "(проверять в лекции нечего). Чтобы поэкспериментировать и сохранить свои изменения, "
             "сохраните копию: File → Save Notebook As… (например, my_{name}).")


class ReadOnlyContentsManager(AsyncLargeFileManager):
    """Jupyter's file contents manager, except that a file without any write permission bit is
    reported as not writable and is never overwritten, whoever runs the server (root included)."""

    def stored_read_only(self, path):
        try:
            mode = Path(self.root_dir, *path.strip("/").split("/")).stat().st_mode
        except OSError:
            return False
        return stat.S_ISREG(mode) and not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)

    async def get(self, path, content=True, type=None, format=None, require_hash=False):
        model = await super().get(path, content=content, type=type, format=format, require_hash=require_hash)
        if model.get("type") != "directory" and self.stored_read_only(path):
            model["writable"] = False
        return model

    async def save(self, model, path=""):
        if self.stored_read_only(path):
            raise web.HTTPError(403, READ_ONLY.format(name=Path(path).name))
        return await super().save(model, path)


def has_test_cells(notebook):
    """True if any cell of the notebook (an nbformat NotebookNode) is an nbgrader grade cell."""
    return any(cell.get("metadata", {}).get("nbgrader", {}).get("grade", False)
               for cell in notebook.cells)


class CourseValidateHandler(ValidateAssignmentHandler):
    """nbgrader's Validate handler, answering with NOT_AN_ASSIGNMENT for notebooks without tests."""

    def validate_notebook(self, path):
        root = Path(self.root_dir).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root):
            raise web.HTTPError(403, "Access denied: path outside allowed directory")
        try:
            notebook = nbformat.read(target, as_version=nbformat.NO_CONVERT)
        except (OSError, ValueError) as error:
            return {"success": False, "value": f"Не удалось прочитать {path}: {error}"}
        if not has_test_cells(notebook):
            return {"success": False, "value": NOT_AN_ASSIGNMENT}
        return super().validate_notebook(path)


def _jupyter_server_extension_points():
    return [{"module": "rnncourse_student_mode"}]


def _load_jupyter_server_extension(serverapp):
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    # nbgrader's handler reads the notebook root from here (its own extension sets the same key).
    web_app.settings["root_dir"] = serverapp.root_dir
    web_app.add_handlers(".*$", [
        (url_path_join(base_url, "assignments/validate"), CourseValidateHandler),
        (url_path_join(base_url, "nbgrader_version"), NbGraderVersionHandler),
    ])
    serverapp.log.info("rnncourse_student_mode: Validate answers lectures with a hint")
