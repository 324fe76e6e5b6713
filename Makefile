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
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help venv lab demo bench test pytest pytest-alternate test-unit test-lab test-integration sanity lint docs galaxy matrix molecule clean

help:
	@echo "make demo   - set up, start the lab, run the demo playbook against it, show the effect, stop"
	@echo "make test   - the whole suite (unit, lab, integration)"
	@echo "make lab    - run the lab in the foreground (writes .lab/lab.json)"
	@echo "make bench  - benchmarks: latency and request counts per mode"

$(COLLECTIONS)/ansible_collections/knocknoc/fortinet:
	@mkdir -p $(COLLECTIONS)/ansible_collections/knocknoc
	@ln -sfn ../../../.. $(COLLECTIONS)/ansible_collections/knocknoc/fortinet

venv: $(COLLECTIONS)/ansible_collections/knocknoc/fortinet
	@./scripts/bootstrap-venv.sh

lab: venv
	$(PY) -m kklab --dir $(LAB_DIR)

demo: venv
	@./scripts/demo.sh

# Latency and request counts per mode, against fortinet.fortios too (a report, no thresholds).
bench: venv
	$(PY) benchmarks/run.py
	$(PY) benchmarks/fleet.py
	$(PY) benchmarks/eda.py $(EDA_BENCH_ARGS)

# The whole suite. The ecosystem gates run first; the main pytest run comes last so that its
# summary closes the output.
test: venv sanity lint docs galaxy matrix molecule pytest-alternate pytest

pytest: venv
	$(PY) -m pytest -q -n 2 --dist loadfile $(ARGS)

# The lab and integration tests again with every lab switch on its other side (docs/lab.md, "Lab
# switches"): the modules must be right whichever way a real device behaves (issue 11).
pytest-alternate: venv
	KKLAB_VARIANT=alternate $(PY) -m pytest -q -n 2 --dist loadfile tests/integration tests/lab $(ARGS)

sanity: venv
	./scripts/sanity.sh

lint: venv
	$(VENV)/bin/ansible-lint --profile production roles playbooks extensions
	$(PY) scripts/consistency-check.py --skip-modules

docs: venv
	./scripts/docs-check.sh

galaxy: venv
	./scripts/galaxy-check.sh

# The oldest ansible-core that meta/runtime.yml claims; the newest is the main venv's.
matrix: venv
	./scripts/matrix.sh 2.19

molecule: venv
	./scripts/molecule.sh

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-lab: venv
	$(PY) -m pytest -q tests/lab

test-integration: venv
	$(PY) -m pytest -q tests/integration

clean:
	rm -rf $(VENV) .cache $(LAB_DIR) tests/output
