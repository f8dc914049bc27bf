# Container Images for Kubernetes: every command a learner, instructor or CI needs.
# `make help` lists them.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb)) $(sort $(wildcard labs/*/*.ipynb))

.DEFAULT_GOAL := help
.PHONY: help venv lab test unit doctor registries registries-delete registries-reset \
        cluster cluster-delete builder-delete base-images tool-images node-image bench ci-times link record-fixtures strip student instructor book browser-test report clean

help: ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -e .
	@touch $@

venv: $(STAMP) ## create .venv from the pinned requirements (done for you by lab and test)

# JupyterLab serves the whole checkout (lessons, labs, workloads) and opens 00-setup (also the URL
# it prints, for a browser on another machine). Its settings
# come from binder/overrides.json (no news prompt), installed into the course's own .venv, never
# into ~/.jupyter. As root (containers, dev boxes) it needs --allow-root. LAB_ARGS adds flags,
# e.g. `make lab LAB_ARGS="--no-browser --port 8899"`.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json

# A JupyterLab terminal runs $SHELL, or sh when it is unset (cron, services, some IDEs); sh has no
# `source`, which the labs ask for, so fall back to bash then.
lab: $(STAMP) ## set up and open the course in JupyterLab
	-@$(PY) -m ckalab registries
	@mkdir -p $(dir $(LAB_SETTINGS)) && cp binder/overrides.json $(LAB_SETTINGS)
	SHELL="$${SHELL:-$$(command -v bash || echo /bin/sh)}" $(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --LabApp.default_url=/lab/tree/notebooks/00-setup.ipynb $(LAB_ARGS)

# The suite's own state: the learner's .ckalab/ (progress, reports, lab work, logins) stays as it was,
# and `make test` fails if it does not. The suite's BuildKit builder (not the learner's `ckalab`) is
# removed when it ends, pass or fail: Docker would otherwise restart it for good.
TEST_STATE := CKALAB_STATE_DIR=$(CURDIR)/build/test-state

# Four phases, each timed (build/reports/phases.tsv): unit, papermill (every notebook, side by side),
# cycles (every lab's full cycle), nbval (every notebook again, side by side). PHASES runs some of
# them, e.g. `make test PHASES="unit cycles"`; nbval needs the papermill phase's build/executed/.
test: $(STAMP) ## run the unit tests, every notebook and lab (papermill), every lab's cycle, then nbval
	@rm -rf build/reports
	@$(PY) -m ckalab learner-state save build/learner-state.json $(CKALAB_LEARNER_IMAGES)
	$(TEST_STATE) $(PY) -m ckalab.testrun $(PHASES); \
	status=$$?; $(TEST_STATE) $(PY) -m ckalab builder-delete; exit $$status
	@$(PY) -m ckalab learner-state compare build/learner-state.json

ci-times: $(STAMP) ## seconds per phase of the last .ci/run (LOG=path for another run's log)
	@$(PY) -m ckalab.testrun times $(LOG)

unit: $(STAMP) ## only the unit and repository tests (no notebook execution, no lab cycles)
	$(TEST_STATE) $(PY) -m ckalab.testrun unit

browser-test: $(STAMP) ## make lab driven in Chromium (Playwright): setup, a lesson link, a lab, a quiz, a skip
	@$(PY) -m ckalab learner-state save build/learner-state-browser.json $(CKALAB_LEARNER_IMAGES)
	$(PY) -m pytest -q -p no:cacheprovider tests/browser
	@$(PY) -m ckalab learner-state compare build/learner-state-browser.json

doctor: $(STAMP) ## check Docker, kind, kubectl, the cluster and the registries
	@$(PY) -m ckalab doctor

registries: $(STAMP) ## start the open (localhost:5001) and private (localhost:5002) registries
	@$(PY) -m ckalab registries

registries-delete: $(STAMP) ## remove the course's registry containers (pushed images stay in the ckalab-*-data volumes)
	@$(PY) -m ckalab registries-delete

registries-reset: $(STAMP) ## recreate the registries with new lab credentials
	@$(PY) -m ckalab registries-reset

cluster: $(STAMP) ## create the kind cluster cka-images, wired to both registries
	@$(PY) -m ckalab cluster

cluster-delete: $(STAMP) ## delete the kind cluster (and nothing else)
	@$(PY) -m ckalab cluster-delete

builder-delete: $(STAMP) ## remove the course's BuildKit builder (lesson 13 makes it again; its build cache stays in a volume)
	@$(PY) -m ckalab builder-delete

base-images: ## build offline stand-ins for the base images (only without Docker Hub)
	bash scripts/build-base-images.sh

tool-images: ## build offline stand-ins for moby/buildkit and tonistiigi/binfmt (only without Docker Hub)
	bash scripts/build-tool-images.sh

node-image: ## build an offline stand-in for kindest/node:v1.37.0 (only without registry access; root)
	bash scripts/build-node-image.sh

bench: $(STAMP) ## time each notebook (Docker mode) and compare the brief's image with the course's
	$(PY) -m ckalab.bench

link: $(STAMP) ## regenerate each lesson's quiz cells and lab links (after editing a bank or adding a lab)
	$(PY) scripts/link_course.py

record-fixtures: $(STAMP) ## re-record tests/fixtures/pods from the course cluster
	$(PY) scripts/record_pod_fixtures.py $(FIXTURES)

book: $(STAMP) ## build/book: every lesson and lab as HTML with the outputs of the last make test (no solutions)
	$(PY) -m ckalab.book

report: $(STAMP) ## cells executed/skipped per notebook in the last run
	@$(PY) -m ckalab report

strip: $(STAMP) ## remove outputs from every notebook (tests fail on stored outputs)
	$(VENV)/bin/nbstripout --drop-empty-cells=false $(NOTEBOOKS)

clean: ## remove build output (keeps .venv and the course state)
	rm -rf build

student: $(STAMP) ## build/student: notebooks and labs without solution cells, outputs cleared
	$(PY) -m ckalab.builds student

instructor: $(STAMP) ## build/instructor: solutions kept, RISE slide metadata on every cell
	$(PY) -m ckalab.builds instructor
