# Data layer: the Airflow ETL DAG (dags/etl_dag.py) into the Feast feature store (feature_repo/).
# DATE=YYYY-MM-DD picks the day (default: yesterday, UTC); SOURCE=file.parquet loads a file instead.
DATE ?= $(shell date -u -d yesterday +%Y-%m-%d 2>/dev/null || date -u -v-1d +%Y-%m-%d)
SOURCE ?=
DATA_CLI = $(RUN) python -m $(PACKAGE).data.cli

.PHONY: etl airflow-init sample-data feast-apply test-data

airflow-init: setup-all ## Create the local Airflow metadata database (SQLite in .local/airflow)
	$(DATA_CLI) airflow-init

etl: setup-all ## Run the ETL DAG for DATE with dag.test() (extract .. materialize)
	$(DATA_CLI) etl --date $(DATE) $(if $(SOURCE),--source-file $(SOURCE))

sample-data: setup-all ## Write one day of sample rows to .local/sample/DATE.parquet
	$(DATA_CLI) sample --date $(DATE) --out .local/sample/$(DATE).parquet

feast-apply: setup-all ## Register the feature repo (local profile; PLATFORM_PROFILE=cloud for the cloud one)
	cd feature_repo && FEAST_USAGE=False $(RUN) feast apply

test-data: setup-all ## The data layer's unit and stack tests (real Airflow scheduler, Feast, PostgreSQL, Redis)
	$(RUN) pytest -q tests/test_data.py $(sort $(wildcard tests/stack/test_data_*.py tests/stack/test_airflow_*.py))
