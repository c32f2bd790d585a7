# The two commands a new user needs (see README.md):
#   make demo   set everything up, import the default model (MiniLM, real weights),
#               run it with lpfc and compare with onnxruntime
#   make test   set everything up and run the whole test suite
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lpfc-setup-stamp

.PHONY: setup demo test test-quick clean

$(STAMP): setup.cfg pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: $(STAMP)

demo: $(STAMP)
	$(PY) examples/minilm_demo.py

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

test-quick: $(STAMP)
	$(PY) -m pytest -n 2 -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
