# Plans the module against mocked providers (Terraform >= 1.7). mock_provider still needs the
# provider's schema, so run it where providers can be downloaded: terraform init && terraform test

mock_provider "google" {
  mock_data "google_project" {
    defaults = { number = "123456789" }
  }
  mock_data "google_storage_project_service_account" {
    defaults = { email_address = "service-123456789@gs-project-accounts.iam.gserviceaccount.com" }
  }
}

mock_provider "random" {}

variables {
  project_id         = "acme-ml-dev"
  billing_account_id = "012345-6789AB-CDEF01"
  region             = "us-central1"
  name               = "churn-prediction-dev"
  environment        = "dev"
  labels = {
    project    = "churn-prediction", environment = "dev", owner = "ml-team", "cost-center" = "cc-1234",
    managed-by = "terraform", model = "lightgbm"
  }
  gpu_node_pool = {
    machine_type      = "g2-standard-4"
    accelerator_type  = "nvidia-l4"
    accelerator_count = 1
    min_nodes         = 0
    max_nodes         = 1
    taint             = { key = "nvidia.com/gpu", value = "present", effect = "NO_SCHEDULE" }
    labels            = { workload = "gpu-inference" }
  }
  monthly_budget_usd = 250
}

run "gpu_pool_follows_the_sizing" {
  command = plan

  assert {
    condition     = google_container_node_pool.this["gpu"].node_config[0].machine_type == "g2-standard-4"
    error_message = "GPU pool machine type is wrong."
  }

  assert {
    condition     = google_container_node_pool.this["gpu"].autoscaling[0].total_max_node_count == 1
    error_message = "GPU pool autoscaling range is not the sizing's."
  }

  assert {
    condition     = google_container_node_pool.this["gpu"].node_config[0].resource_labels["cost-center"] == "cc-1234"
    error_message = "GPU nodes do not carry the cost labels."
  }
}

run "rejects_a_pool_without_accelerator" {
  command = plan

  variables {
    gpu_node_pool = {
      machine_type = "g2-standard-4", accelerator_type = "", accelerator_count = 1, min_nodes = 0, max_nodes = 1,
      taint        = { key = "nvidia.com/gpu", value = "present", effect = "NO_SCHEDULE" }, labels = {}
    }
  }

  expect_failures = [var.gpu_node_pool]
}
