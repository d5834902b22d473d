# Template updates (`copier update`): checks that nothing unresolved is left behind. Conflict
# markers: pre-commit-hooks' `check-merge-conflict` (run through `uv tool run`, so it works right
# after an update, before `make setup`); `.rej` files: any tracked or untracked one fails.
PRE_COMMIT_HOOKS ?= pre-commit-hooks==6.0.0

.PHONY: check-conflicts hooks

check-conflicts: ## Fail on leftover conflict markers or .rej files (run after `copier update`)
	@rejects="$$(git ls-files --cached --others --exclude-standard -- '*.rej')"; \
	if [ -n "$$rejects" ]; then \
	  for reject in $$rejects; do echo "$$reject: rejected update hunks for $${reject%.rej}; apply them by hand, then delete it"; done; \
	  exit 1; \
	fi
	@git ls-files -z --cached --others --exclude-standard \
	  | while IFS= read -r -d '' file; do [ -f "$$file" ] && printf '%s\0' "$$file"; done \
	  | xargs -0 $(UV) tool run --quiet --from $(PRE_COMMIT_HOOKS) check-merge-conflict --assume-in-merge
	@echo "check-conflicts: no conflict markers, no .rej files"

hooks: ## Install the git pre-commit hook (refuses commits with conflict markers or .rej files)
	$(UV) tool run pre-commit install
