# prnet: every target installs what it needs first (see scripts/install.sh; versions in
# requirements/constraints.txt).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.prnet-installed
PYTEST_ARGS ?=

.PHONY: install test demo benchmark clean

install: $(STAMP)

$(STAMP): setup.py requirements/constraints.txt scripts/install.sh
	VENV=$(VENV) bash scripts/install.sh
	@touch $(STAMP)

test: install
	$(PYTHON) -m pytest tests $(PYTEST_ARGS)

demo: install
	$(PYTHON) tools/demo.py

benchmark: install
	$(PYTHON) tools/benchmark.py --config-file configs/PRNet/prnet_s.py --size 640 --batch 1 \
		--output output/benchmark/prnet_s_640.json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
