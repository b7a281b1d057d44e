"""Shared pytest setup.

nbval compares every stored output of a lecture notebook, stderr included. stderr carries
warnings with temporary paths and library versions that change from run to run, so it is
left out of the comparison; stdout, results and figures are still compared.
"""
import nbval.plugin

_compare_streams = nbval.plugin.transform_streams_for_comparison


def _without_stderr(outputs):
    return _compare_streams([out for out in outputs
                             if not (out.get("output_type") == "stream" and out.get("name") == "stderr")])


nbval.plugin.transform_streams_for_comparison = _without_stderr
