"""Shared pytest setup.

Kernels started by nbval inherit the environment set here.

nbval compares every stored output of a lecture notebook, stderr included. stderr carries
warnings with temporary paths and library versions that change from run to run, so it is
left out of the comparison; stdout, results and figures are still compared.
"""
import os

import nbval.plugin

# The same reproducible numerics as `make lectures` used to store the outputs (see the Makefile),
# whatever the shell exports: stored outputs are compared digit by digit.
os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_CORETYPE="Haswell",
                  NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR")

_compare_streams = nbval.plugin.transform_streams_for_comparison


def _without_stderr(outputs):
    return _compare_streams([out for out in outputs
                             if not (out.get("output_type") == "stream" and out.get("name") == "stderr")])


nbval.plugin.transform_streams_for_comparison = _without_stderr
