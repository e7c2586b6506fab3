PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_STAMP := $(VENV)/.installed-model

.PHONY: demo test install install-model clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the test suite also covers the diffusion engine and the dataset pipeline, so it installs the model and data
# extras (torch CPU, diffusers, ...), and PySceneDetect and MediaPipe without their GUI-OpenCV dependencies
$(MODEL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,model,data]'
	$(BIN)/pip install --quiet --no-deps scenedetect==0.7.2 mediapipe==1.2.2
	$(BIN)/python -c "import sys; from paistudio.comp.segment import fetch_person_model; fetch_person_model(sys.prefix + '/share/paistudio')"
	touch $(MODEL_STAMP)

install: $(STAMP)

install-model: $(MODEL_STAMP)

demo: $(STAMP)
	$(BIN)/paistudio demo --out demo_output

test: $(MODEL_STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) demo_output
