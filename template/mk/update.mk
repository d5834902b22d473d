# Template updates (`copier update`): checks that nothing unresolved is left behind.
# The checker is plain Python (standard library), so it runs right after an update, before setup.
CONFLICTS_PYTHON ?= python3
CONFLICTS_TOOL := $(firstword $(wildcard src/*/tools/conflicts.py))

.PHONY: check-conflicts hooks

check-conflicts: ## Fail on leftover conflict markers or .rej files (run after `copier update`)
	@$(CONFLICTS_PYTHON) $(CONFLICTS_TOOL) && echo "check-conflicts: no conflict markers, no .rej files"

hooks: ## Install the git pre-commit hook (refuses commits with conflict markers or .rej files)
	$(UV) tool run pre-commit install
