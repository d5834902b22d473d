"""Infrastructure driver: Terraform plan / apply / destroy per environment, cost summary, cost chart.

`python -m <package>.infra plan --env dev` (or `make plan ENV=dev`). Terraform runs through
python-terraform (dependency group `infra`); the version check, the cost summary and the chart
need only the standard library and platform.yaml.
"""
