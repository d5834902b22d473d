# Serving layer: the champion model behind a real Triton server (local: CPU, from the
# nvidia-pytriton wheel; cloud: deploy/k8s). Variables: MODEL_URI=models:/<name>@<alias>,
# PROFILE=local|cloud|cluster-cpu, OUT=<folder>, SERVING_HTTP_PORT / SERVING_GRPC_PORT / SERVING_METRICS_PORT (0 = free port).
SERVING = $(RUN) python -m $(PACKAGE).serving
PROFILE ?= local

.PHONY: build-serving serve serve-stop serve-status bench-serve batch-worker edge-export test-serving

build-serving: setup-all ## Build the Triton model repository from the champion (MODEL_URI=..., PROFILE=local|cloud)
	$(SERVING) build --profile $(PROFILE) $(if $(MODEL_URI),--model-uri $(MODEL_URI)) $(if $(OUT),--out $(OUT))

serve: setup-all ## Start the local Triton server (builds the model repository if missing; waits until ready)
	$(SERVING) serve --build-if-missing

serve-stop: ## Stop the local Triton server
	$(SERVING) stop

serve-status: ## Is the local Triton server running, and on which ports
	$(SERVING) status

bench-serve: setup-all ## Triton vs `mlflow models serve` vs in-process predict (needs wrk; BENCH_DURATION=s per level)
	@command -v wrk >/dev/null || { echo "bench-serve needs wrk (apt-get install wrk / brew install wrk)"; exit 1; }
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(SERVING) bench $(if $(MODEL_URI),--model-uri $(MODEL_URI)) $(if $(BENCH_DURATION),--duration $(BENCH_DURATION))

batch-worker: setup-all ## Batch pattern: consume the Redis request queue and score on Triton (REDIS_URL=...)
	$(SERVING) worker

edge-export: setup-all ## Edge pattern: write the ONNX bundle for devices (PUBLISH=1 uploads it to serving.edge.sync_uri)
	$(SERVING) edge-export $(if $(MODEL_URI),--model-uri $(MODEL_URI)) $(if $(PUBLISH),--publish)

test-serving: setup-all ## The serving layer's unit and stack tests (real Triton, Redis for the batch worker)
	$(RUN) pytest -q tests/test_serving_config.py tests/stack/test_serving_stack.py
