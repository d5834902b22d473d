# Training layer: the Kubeflow pipeline (pipelines/training_pipeline.py) locally and on the cluster.
# PARAMS='{"n_estimators": 50}' overrides training.model_params for one run.
PARAMS ?= {}
TRAIN_PIPELINE := pipelines/training_pipeline.py

.PHONY: train train-remote train-compile

train: setup-all ## Train, evaluate, register and promote locally (kfp.local + MLflow in .local/)
	$(RUN) python $(TRAIN_PIPELINE) run --params '$(PARAMS)'

train-compile: setup-all ## Compile the training pipeline to pipelines/compiled/training_pipeline.yaml
	$(RUN) python $(TRAIN_PIPELINE) compile

train-remote: setup-all ## Submit the training pipeline to Kubeflow (training.remote.kfp_endpoint or $KFP_ENDPOINT)
	$(RUN) python $(TRAIN_PIPELINE) submit --params '$(PARAMS)'

# The cloud MLflow server (deploy/k8s/mlflow) reads its backend URI from Secret mlflow-backend and
# its artifact root from ConfigMap mlflow-artifacts; both come from this environment's Terraform outputs.
MLFLOW_SCHEME := $(shell sed -n 's/^  cloud: //p' platform.yaml | sed 's/aws/s3/;s/gcp/gs/;s/azure/wasbs/')

.PHONY: mlflow-config
mlflow-config: ## Print the kubectl commands for the MLflow Secret and ConfigMap from Terraform outputs (ENV=dev|prod)
	@tf="env TF_DATA_DIR=../envs/$(ENV)/.terraform terraform -chdir=infra/stack"; \
	bucket=$$($$tf output -raw artifact_bucket) || exit 1; \
	endpoint=$$($$tf output -raw postgres_endpoint) || exit 1; \
	secret=$$($$tf output -raw postgres_secret_ref) || exit 1; \
	case "$(MLFLOW_SCHEME)" in \
	  wasbs) root="wasbs://$${bucket#*/}@$${bucket%%/*}.blob.core.windows.net" ;; \
	  *) root="$(MLFLOW_SCHEME)://$$bucket" ;; \
	esac; \
	echo "# then deploy the server with its cloud identity: make deploy ENV=$(ENV) (docs/deploy.md)"; \
	echo "kubectl -n mlflow create configmap mlflow-artifacts --from-literal=root=$$root"; \
	echo "# the password is in $$secret (your cloud's secret manager); never commit it:"; \
	echo "kubectl -n mlflow create secret generic mlflow-backend --from-literal=uri='postgresql://<user>:<password>@$$endpoint/mlflow'"
