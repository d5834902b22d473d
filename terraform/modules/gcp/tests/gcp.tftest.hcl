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
  names = {
    prefix               = "churn-prediction-dev"
    artifacts_bucket     = "churn-prediction-dev-mlflow-artifacts-f3e9e0"
    offline_bucket       = "churn-prediction-dev-feast-offline-f3e9e0"
    models_bucket        = "churn-prediction-dev-models-f3e9e0"
    inference_log_bucket = "churn-prediction-dev-inference-log-f3e9e0"
  }
  environment = "dev"
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
  workload_identities = {
    triton  = { namespace = "churn-prediction-dev", service_account = "triton" }
    mlflow  = { namespace = "mlflow", service_account = "mlflow" }
    monitor = { namespace = "churn-prediction-monitoring", service_account = "churn-prediction-monitor" }
    airflow = { namespace = "airflow", service_account = "airflow-worker" }
  }
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

run "buckets_are_named_by_the_engine" {
  command = plan

  assert {
    condition = {
      for key, bucket in google_storage_bucket.this : key => bucket.name
      } == {
      artifacts     = "churn-prediction-dev-mlflow-artifacts-f3e9e0"
      offline       = "churn-prediction-dev-feast-offline-f3e9e0"
      models        = "churn-prediction-dev-models-f3e9e0"
      inference_log = "churn-prediction-dev-inference-log-f3e9e0"
    }
    error_message = "The buckets are not the ones var.names gives (the module must not compute names)."
  }

  assert {
    condition = alltrue([
      for bucket in google_storage_bucket.this : bucket.public_access_prevention == "enforced" && bucket.uniform_bucket_level_access
    ])
    error_message = "Every bucket (models and inference log included) must be private."
  }

  assert {
    condition     = google_service_account.nodes.account_id == "churn-prediction-dev-nodes"
    error_message = "Resources are not named with names.prefix."
  }
}

run "rejects_a_bucket_name_gcs_refuses" {
  command = plan

  variables {
    names = {
      prefix               = "churn-prediction-dev"
      artifacts_bucket     = "google-ads-dev-mlflow-artifacts-f3e9e0"
      offline_bucket       = "churn-prediction-dev-feast-offline-f3e9e0"
      models_bucket        = "churn-prediction-dev-models-f3e9e0"
      inference_log_bucket = "churn-prediction-dev-inference-log-f3e9e0"
    }
  }

  expect_failures = [var.names]
}

run "rejects_a_prefix_the_node_service_account_cannot_carry" {
  command = plan

  variables {
    names = {
      prefix               = "churn-prediction-abc-prod"
      artifacts_bucket     = "churn-prediction-dev-mlflow-artifacts-f3e9e0"
      offline_bucket       = "churn-prediction-dev-feast-offline-f3e9e0"
      models_bucket        = "churn-prediction-dev-models-f3e9e0"
      inference_log_bucket = "churn-prediction-dev-inference-log-f3e9e0"
    }
  }

  expect_failures = [var.names]
}

run "each_workload_gets_its_own_gsa_bound_to_its_service_account" {
  command = plan

  assert {
    condition     = google_service_account.workload["triton"].account_id == "churn-prediction-dev-serve" && google_service_account.workload["airflow"].account_id == "churn-prediction-dev-etl"
    error_message = "Workload service accounts are <prefix>-<short workload name> (30 characters at most)."
  }

  assert {
    condition     = google_service_account_iam_member.workload_identity["monitor"].member == "serviceAccount:acme-ml-dev.svc.id.goog[churn-prediction-monitoring/churn-prediction-monitor]"
    error_message = "Workload Identity must trust exactly the workload's namespace/ServiceAccount."
  }

  assert {
    condition     = length(google_storage_bucket_iam_member.workload) == 4 && google_storage_bucket_iam_member.workload["triton_model_repository"].role == "roles/storage.objectViewer"
    error_message = "The bucket grants are not the least-privilege table (triton reads the model repository only)."
  }
}

run "edge_pattern_lets_the_drift_job_read_device_logs" {
  command = plan

  variables {
    edge_sync = true
  }

  assert {
    condition     = length(google_storage_bucket_iam_member.workload) == 5 && google_storage_bucket_iam_member.workload["monitor_edge_logs"].bucket == "churn-prediction-dev-models-f3e9e0"
    error_message = "With edge_sync the drift job reads edge/logs/ of the models bucket."
  }
}

run "pgvector_needs_no_flag_on_the_tested_version" {
  command = plan

  variables {
    postgres_extensions = ["vector"]
  }

  assert {
    condition     = google_sql_database_instance.postgres.database_version == "POSTGRES_16" && output.postgres_extensions == tolist(["vector"])
    error_message = "POSTGRES_16 ships pgvector; the application must be told to create it."
  }
}

run "rejects_pgvector_on_a_version_without_it" {
  command = plan

  variables {
    postgres_extensions = ["vector"]
    postgres_version    = "POSTGRES_10"
  }

  expect_failures = [var.postgres_extensions]
}

run "rejects_an_extension_that_is_not_wired" {
  command = plan

  variables {
    postgres_extensions = ["postgis"]
  }

  expect_failures = [var.postgres_extensions]
}
