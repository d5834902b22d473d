terraform {
  # Provider-free: only Terraform's own functions, so `terraform test` runs offline.
  required_version = ">= 1.9"
}
