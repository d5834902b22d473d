"""Infrastructure driver: Terraform plan / apply / destroy per environment, cost summary, cost chart.

`python -m <package>.infra plan --env dev` (or `make plan ENV=dev`). Terraform runs through
python-terraform and the cost chart's image through matplotlib (dependency group `infra`); the
version check and the cost summary need only the standard library and platform.yaml.
"""
