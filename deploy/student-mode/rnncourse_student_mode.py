"""Jupyter server extension of the course's student mode: Validate knows lectures from assignments.

nbgrader's Validate button sits on every notebook's toolbar. On a lecture (a notebook without a
single nbgrader test cell) nbgrader re-runs the whole notebook and then reports «Success! Your
notebook passes all the tests», which a student takes for a verdict. This extension serves the
same two routes as nbgrader's `validate_assignment` server extension (which the student mode
disables): assignments are validated by nbgrader exactly as before; any other notebook gets a
short message instead, without running it.

Enable it with `"ServerApp": {"jpserver_extensions": {"rnncourse_student_mode": true}}` and
disable `nbgrader.server_extensions.validate_assignment` (deploy/student-mode/install.py does both).
"""
from pathlib import Path

import nbformat
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
