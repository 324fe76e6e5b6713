# knocknoc.fortinet — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.cache/collections
LAB_DIR := $(CURDIR)/.lab
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := true
export ANSIBLE_LOCALHOST_WARNING := false
export ANSIBLE_INVENTORY_UNPARSED_WARNING := false
export ANSIBLE_PYTHON_INTERPRETER := $(CURDIR)/$(VENV)/bin/python
export PYTHONPATH := $(COLLECTIONS):$(CURDIR)/lab

.PHONY: help venv lab demo test test-unit test-lab test-integration clean

help:
	@echo "make demo   - set up, start the lab, run the demo playbook against it, show the effect, stop"
	@echo "make test   - the whole suite (unit, lab, integration)"
	@echo "make lab    - run the lab in the foreground (writes .lab/lab.json)"

$(COLLECTIONS)/ansible_collections/knocknoc/fortinet:
	@mkdir -p $(COLLECTIONS)/ansible_collections/knocknoc
	@ln -sfn ../../../.. $(COLLECTIONS)/ansible_collections/knocknoc/fortinet

venv: $(COLLECTIONS)/ansible_collections/knocknoc/fortinet
	@./scripts/bootstrap-venv.sh

lab: venv
	$(PY) -m kklab --dir $(LAB_DIR)

demo: venv
	@./scripts/demo.sh

test: venv
	$(PY) -m pytest -q -n 2 --dist loadfile

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-lab: venv
	$(PY) -m pytest -q tests/lab

test-integration: venv
	$(PY) -m pytest -q tests/integration

clean:
	rm -rf $(VENV) .cache $(LAB_DIR) tests/output
