# Monitoring layer: the inference log, the PSI drift job, alert rules (deploy/k8s/monitoring).
# DRIFT_ARGS passes options to the job, e.g. DRIFT_ARGS="--window-hours 6 --json".
# The job's own exit status (0 no drift, 3 drift, 4-7 bad input; docs/monitoring.md) is printed;
# make itself exits 2 whenever the job does not exit 0. Schedulers call the module directly.
DRIFT_ARGS ?=
DRIFT = $(RUN) python -m $(PACKAGE).monitoring.drift
PROMTOOL ?= promtool
RULES_DIR := deploy/k8s/monitoring/rules

.PHONY: drift check-rules test-monitoring

drift: setup-all ## PSI drift of the inference log window against the champion's training data
	$(DRIFT) $(DRIFT_ARGS)

check-rules: ## promtool: check the alert rules and run their unit tests (Debian/Ubuntu: apt-get install prometheus)
	@command -v $(PROMTOOL) >/dev/null 2>&1 || { echo "check-rules: promtool not found; install it (apt-get install prometheus, or a Prometheus release) or set PROMTOOL=/path/to/promtool" >&2; exit 127; }
	$(PROMTOOL) check rules $(RULES_DIR)/alerts.rules.yml
	cd $(RULES_DIR) && $(PROMTOOL) test rules alerts.test.yml

test-monitoring: setup-all ## The monitoring layer's unit and stack tests
	$(RUN) pytest -q tests/test_monitoring.py tests/stack/test_monitoring_stack.py
