# Two commands matter (see README.md): `make demo` and `make test`.
# Both create the virtual environment in .venv on first use; nothing else is needed but python3 and make.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
JOBS   ?= 2
# nbgrader starts `alembic` from PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Lecture outputs are compared digit by digit, and some (training runs, sampled text) amplify a
# last-bit difference. One BLAS thread and the AVX2 code paths of OpenBLAS and numpy make them
# identical on every x86-64 machine with AVX2, whatever else the CPU offers.
NOTEBOOK_ENV := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell \
	NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"

.PHONY: setup demo test test-fast lectures assignments samples bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[course,dev]'
	touch $(STAMP)

## The main job: build the course, then grade the bundled sample submissions end to end.
demo: $(STAMP)
	$(PY) -m autograder demo --jobs $(JOBS)

## Every test: rnncore against finite differences and PyTorch, the lectures with nbval,
## the assignments' nbgrader round trip, the grading pipeline and its sandbox.
test: $(STAMP)
	$(NOTEBOOK_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile \
		--nbval --nbval-current-env --nbval-sanitize-with lectures/sanitize.cfg \
		tests lectures

## Only the rnncore unit tests (seconds).
test-fast: $(STAMP)
	$(PY) -m pytest -q tests -m "not slow"

## Re-execute the lecture notebooks in place (after changing them or rnncore).
lectures: $(STAMP)
	for nb in lectures/*.ipynb; do \
		$(NOTEBOOK_ENV) $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; \
	done

## Regenerate the student versions in assignments/ from solutions/.
assignments: $(STAMP)
	$(PY) -m autograder build

## Regenerate the sample submissions in autograder/samples/ from assignments/.
samples: $(STAMP)
	$(PY) -m autograder.sample_submissions

## Benchmarks: ratios measured side by side in one run (see docs/benchmarks.md).
bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf build grading-out .pytest_cache
