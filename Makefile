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

.PHONY: setup demo test test-fast fuzz lectures assignments release samples bench clean lab hub hub-clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[course,dev,browser,cluster,postgres]'
	touch $(STAMP)

## The main job: build the course, then grade the bundled sample submissions end to end,
## and end with the term's statistics page (its path is the last line printed).
demo: $(STAMP)
	$(PY) -m autograder demo --jobs $(JOBS)

## Every test: rnncore against finite differences and PyTorch, the lectures with nbval,
## the assignments' nbgrader round trip, the grading pipeline and its sandbox, and the audit of the
## assignments' tests (python -m autograder audit over a1-a6, tests/course/test_audit.py).
test: $(STAMP)
	$(NOTEBOOK_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile \
		--nbval --nbval-current-env --nbval-sanitize-with lectures/sanitize.cfg \
		tests lectures

## The quick tests: everything not marked slow (rnncore, the grader's unit tests), no notebooks.
test-fast: $(STAMP)
	$(PY) -m pytest -q tests -m "not slow"

## The property-based tests of what decodes a submission, with many more examples than `make test` runs
## (tests/grader/test_fuzz_intake.py); a failure it finds is pinned there with @example.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q tests/grader/test_fuzz_intake.py

## Re-execute the lecture notebooks in place (after changing them or rnncore) and store them clean
## (no stderr, finished progress bars, a hint instead of each slider; see lectures/execute_and_clean.py),
## $(JOBS) notebooks at a time, each on one BLAS thread.
lectures: $(STAMP)
	printf '%s\n' lectures/*.ipynb | xargs -P $(JOBS) -I{} env $(NOTEBOOK_ENV) $(PY) lectures/execute_and_clean.py {}

## JupyterLab here in the course's student mode (deploy/student-mode/): the README opens first,
## nbgrader's instructor panels are off, Validate tells lectures from assignments.
## Here it is a configuration folder beside .venv (build/student-mode), so .venv's own `jupyter lab`
## keeps the instructor's panels; the student edition installs it into its environment instead.
lab: $(STAMP)
	mkdir -p build/student-mode
	$(PY) deploy/student-mode/install.py --prefix build/student-mode --config-only
	JUPYTER_CONFIG_PATH=$(abspath build/student-mode/etc/jupyter) PYTHONPATH=$(abspath deploy/student-mode) \
		$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

## A demo JupyterHub for the course on http://127.0.0.1:8000 (deploy/jupyterhub/README.md): accounts
## instructor, student1, student2, password rnn-demo; its state is in build/hub. As root (the way to
## run it) each is a Unix account of its own; `make hub-clean` removes them and the hub's state.
hub: $(STAMP)
	$(VENV)/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

hub-clean: $(STAMP)
	$(PY) deploy/jupyterhub/hubsetup.py remove build/hub

## Regenerate the student versions in assignments/ from solutions/.
assignments: $(STAMP)
	$(PY) -m autograder build

## The student edition (lectures, student notebooks, rnncore; no solutions or hidden tests):
## build/student-edition/ and build/student-edition.zip (see docs/instructor-guide.md).
release: $(STAMP)
	$(PY) -m autograder release build/student-edition

## Regenerate the sample submissions in autograder/samples/ from assignments/.
samples: $(STAMP)
	$(PY) -m autograder.course.samples

## Benchmarks: ratios measured side by side in one run (see docs/benchmarks.md).
bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	if [ -d build/hub/state ]; then $(PY) deploy/jupyterhub/hubsetup.py remove build/hub; fi
	rm -rf build grading-out .pytest_cache
