# Infrastructure (owned by the infra layer; docs/infrastructure.md). ENV=dev|prod.
#   make plan ENV=dev      decisions and cost, then the Terraform plan of dev
#   make apply ENV=dev     plan, cost summary, confirm, apply that plan
#   make destroy ENV=dev   confirm (type the name), destroy
#   make identities ENV=dev   bind the ServiceAccounts to the identities Terraform created (after apply)
INFRA = $(RUN) python -m $(PACKAGE).infra

.PHONY: setup-infra infra-plan apply destroy identities identities-check infra-check cost-summary cost-chart tf-fmt tf-test tf-policy

setup-infra: uv.lock ## Install the Terraform driver (python-terraform)
	$(UV) sync --frozen --inexact --group infra  # keep the other groups (make setup) installed

infra-plan: setup-infra ## Terraform plan of infra/stack for ENV (plan file infra/envs/$(ENV)/terraform.tfplan) and its cost
	$(INFRA) plan --env $(ENV)

apply: setup-infra ## Plan, print the cost, confirm, then apply ENV
	$(INFRA) apply --env $(ENV)

destroy: setup-infra ## Destroy every resource of ENV (asks you to type its name)
	$(INFRA) destroy --env $(ENV)

identities: setup-infra ## Write ENV's cloud identities (terraform output workload_identities; OUTPUTS=file for a saved `terraform output -json`) into deploy/k8s/overlays/ENV and deploy/airflow/identity-ENV.yaml
	$(INFRA) identities --env $(ENV) $(if $(OUTPUTS),--outputs $(OUTPUTS))

identities-check: setup ## Stop (exit 1) unless every workload of ENV has its identity files (run before a deploy)
	$(INFRA) identities --env $(ENV) --check

infra-check: setup ## Is terraform installed and new enough, are the account variables set?
	$(INFRA) check

cost-summary: setup ## Monthly estimate, budget and GPU pool of ENV
	$(INFRA) summary --env $(ENV)

cost-chart: setup ## Draw docs/cost.png (monthly cost against requests, matplotlib) from platform.yaml; docs/cost.md has it in Mermaid
	$(RUN) python -m $(PACKAGE).infra.chart $(if $(OUTPUT),--output $(OUTPUT))

tf-fmt: ## terraform fmt -check over infra/
	terraform fmt -check -recursive infra

tf-test: ## terraform test of the provider-free modules (offline)
	@for module in infra/modules/cost_tags; do \
		(cd $$module && terraform init -input=false -backend=false >/dev/null && terraform test) || exit 1; \
	done

# checkov runs in its own uv tool environment (its hcl2 module clashes with python-hcl2's), at the
# version the generator's suite checks this policy with.
CHECKOV_VERSION = 3.3.30

tf-policy: ## checkov's cost-tag policy CKV_MLOPS_1 (infra/policies) over infra/: every taggable resource has the cost tags
	BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false $(UV) tool run --from checkov==$(CHECKOV_VERSION) \
	  checkov -d infra --framework terraform --external-checks-dir infra/policies --check CKV_MLOPS_1 \
	  --skip-download --compact --quiet

# `make plan` prints the decisions; with ENV=... given on the command line it also runs the
# Terraform plan of that environment, after the decisions.
ifeq ($(origin ENV),command line)
plan: infra-plan
infra-plan: | decisions
endif
