PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_STAMP := $(VENV)/.installed-model

.PHONY: demo test install install-model clean bench app

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# the test suite also covers the diffusion engine, the dataset pipeline and the web app, so it installs the model,
# data and app extras (torch CPU, diffusers, gradio, ...), and PySceneDetect and MediaPipe without their GUI-OpenCV
# dependencies
$(MODEL_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,model,data,app]'
	$(BIN)/pip install --quiet --no-deps scenedetect==0.7.2 mediapipe==1.2.2
	$(BIN)/python -c "import sys; from paistudio.comp.segment import fetch_person_model; fetch_person_model(sys.prefix + '/share/paistudio')"
	touch $(MODEL_STAMP)

install: $(STAMP)

install-model: $(MODEL_STAMP)

demo: $(STAMP)
	$(BIN)/paistudio demo --out demo_output

test: $(MODEL_STAMP)
	$(BIN)/python -m pytest -q

app: $(STAMP)
	$(BIN)/pip install --quiet -e '.[app]'
	$(BIN)/paistudio app

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) demo_output
