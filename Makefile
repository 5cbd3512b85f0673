# make demo: set up, run every stage on the demo preset (2-core CPU), write the HTML report.
# make test: set up, lint, run pytest (which checks the DAG of every preset and of the cluster profile).
# make check: the fast tier of the tests (those not marked slow), for use while changing code.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SNAKEMAKE := $(BIN)/snakemake
# Reinstall only when the package definition changes.
STAMP := $(VENV)/.installed
# pytest workers (pytest-xdist): the CI machine's 2 cores; more where there are more
TEST_WORKERS ?= 2

.PHONY: demo test check lint dry-run lock readme

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -c constraints.txt -e '.[test]'
	touch $@

# To move to newer versions inside pyproject.toml's ranges: resolve without the old record, then
# record every installed version (the exact versions `make` installs and the results are made with).
lock: | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.tmp
	mv constraints.tmp constraints.txt

# Snakemake targets go before --configfile, which would read a following word as a file.
demo: $(STAMP)
	$(SNAKEMAKE) all --cores all --configfile config/demo.yaml
	$(SNAKEMAKE) --configfile config/demo.yaml --report results/demo/report.html

# The README's headline table from the demo's own tables (after make demo).
readme: $(STAMP)
	$(BIN)/python -m exp2simgan_core.headline results/demo/tables/headline.md README.md

# The workflow's rule graph in docs/ (needs Graphviz's dot), drawn from the demo preset.
.PHONY: rulegraph
rulegraph: $(STAMP)
	$(SNAKEMAKE) all --rulegraph --configfile config/demo.yaml > $(VENV)/rulegraph.dot
	dot -Tsvg $(VENV)/rulegraph.dot > docs/rulegraph.svg
	dot -Tpng $(VENV)/rulegraph.dot > docs/rulegraph.png

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(SNAKEMAKE) --lint

dry-run: $(STAMP)
	for preset in config smoke demo gpu_fast paper_cpu; do \
		$(SNAKEMAKE) all -n --quiet rules --configfile config/$$preset.yaml || exit 1; \
	done
	$(SNAKEMAKE) all --profile slurm-gpu -n --quiet rules

# (the dry runs of every preset and of the cluster profile are tests of their own: test_workflow.py)
test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

# The fast tier, while changing code: every test not marked slow (no workflow run, no Inception).
check: $(STAMP)
	$(BIN)/pytest -m "not slow" -q -n $(TEST_WORKERS)
