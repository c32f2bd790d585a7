# The two commands a new user needs (see README.md):
#   make demo   set everything up, import the default model (MiniLM, real weights),
#               run it with lpfc and compare with onnxruntime
#   make test   set everything up and run the whole test suite
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lpfc-setup-stamp

.PHONY: setup demo test test-quick test-heavy clean

$(STAMP): setup.cfg pyproject.toml scripts/setup.sh
	bash scripts/setup.sh

setup: $(STAMP)

demo: $(STAMP)
	$(PY) examples/minilm_demo.py

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

test-quick: $(STAMP)
	$(PY) -m pytest -n 2 -q -m "not slow"

# the checks on the whole real SmolLM2-135M (export, compile, 64 greedy tokens), ~30 min on 2 cores
test-heavy: $(STAMP)
	$(PY) -m pytest -n 2 -q -m heavy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis

# The question-answering app (examples/qa, docs/qa.md): fine-tune MiniLM on SQuAD v1.1 if no cached
# run exists (QA_MINUTES of CPU training), compile it with lpfc, serve http://127.0.0.1:8014/
QA_MINUTES ?= 105
.PHONY: qa
qa: $(STAMP)
	$(PY) -m examples.qa all --minutes $(QA_MINUTES)
