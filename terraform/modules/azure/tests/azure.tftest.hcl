# Plans the module against mocked providers (Terraform >= 1.7). mock_provider still needs the
# provider's schema, so run it where providers can be downloaded: terraform init && terraform test

mock_provider "azurerm" {
  mock_data "azurerm_client_config" {
    defaults = {
      tenant_id = "00000000-0000-0000-0000-000000000000"
      object_id = "00000000-0000-0000-0000-000000000001"
    }
  }
}

variables {
  names = {
    prefix                  = "churn-prediction-dev"
    storage_account         = "churnpredictiondevf3e9e0"
    artifacts_container     = "mlflow-artifacts"
    offline_container       = "feast-offline"
    models_container        = "models"
    inference_log_container = "inference-log"
    registry                = "churnpredictiondevf3e9e0"
    postgres_server         = "psql-churn-prediction-dev-f3e9e0"
    redis_cache             = "redis-churn-prediction-dev-f3e9e0"
  }
  environment = "dev"
  location    = "eastus"
  tags = {
    project    = "churn-prediction", environment = "dev", owner = "ml-team", "cost-center" = "cc-1234",
    managed-by = "terraform", model = "lightgbm"
  }
  gpu_node_pool = {
    vm_size   = "Standard_NC4as_T4_v3"
    min_nodes = 0
    max_nodes = 1
    taint     = "sku=gpu:NoSchedule"
    labels    = { accelerator = "nvidia", workload = "gpu-inference" }
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
    condition     = azurerm_kubernetes_cluster_node_pool.gpu.vm_size == "Standard_NC4as_T4_v3" && azurerm_kubernetes_cluster_node_pool.gpu.max_count == 1
    error_message = "GPU pool VM size or autoscaling range is wrong."
  }

  assert {
    condition     = azurerm_kubernetes_cluster_node_pool.gpu.node_taints == tolist(["sku=gpu:NoSchedule"])
    error_message = "GPU pool taint is wrong."
  }

  assert {
    condition     = azurerm_kubernetes_cluster_node_pool.gpu.tags["cost-center"] == "cc-1234"
    error_message = "GPU pool does not carry the cost tags."
  }
}

run "rejects_a_malformed_taint" {
  command = plan

  variables {
    gpu_node_pool = { vm_size = "Standard_NC4as_T4_v3", min_nodes = 0, max_nodes = 1, taint = "sku gpu", labels = {} }
  }

  expect_failures = [var.gpu_node_pool]
}

run "storage_and_servers_are_named_by_the_engine" {
  command = plan

  assert {
    condition     = azurerm_storage_account.this.name == "churnpredictiondevf3e9e0" && azurerm_container_registry.this.name == "churnpredictiondevf3e9e0"
    error_message = "The storage account or registry is not the one var.names gives (the module must not compute names)."
  }

  assert {
    condition = {
      for key, container in azurerm_storage_container.this : key => container.name
      } == {
      artifacts     = "mlflow-artifacts"
      offline       = "feast-offline"
      models        = "models"
      inference_log = "inference-log"
    }
    error_message = "Every container platform.yaml names (models and inference log included) must exist."
  }

  assert {
    condition     = azurerm_postgresql_flexible_server.this.name == "psql-churn-prediction-dev-f3e9e0" && azurerm_redis_cache.this.name == "redis-churn-prediction-dev-f3e9e0"
    error_message = "PostgreSQL and Redis must carry the engine's global DNS names."
  }
}

run "rejects_a_storage_account_over_24_characters" {
  command = plan

  variables {
    names = {
      prefix                  = "churn-prediction-dev"
      storage_account         = "churnpredictiondevf3e9e0x"
      artifacts_container     = "mlflow-artifacts"
      offline_container       = "feast-offline"
      models_container        = "models"
      inference_log_container = "inference-log"
      registry                = "churnpredictiondevf3e9e0"
      postgres_server         = "psql-churn-prediction-dev-f3e9e0"
      redis_cache             = "redis-churn-prediction-dev-f3e9e0"
    }
  }

  expect_failures = [var.names]
}

run "rejects_a_server_name_that_is_no_dns_label" {
  command = plan

  variables {
    names = {
      prefix                  = "churn-prediction-dev"
      storage_account         = "churnpredictiondevf3e9e0"
      artifacts_container     = "mlflow-artifacts"
      offline_container       = "feast-offline"
      models_container        = "models"
      inference_log_container = "inference-log"
      registry                = "churnpredictiondevf3e9e0"
      postgres_server         = "psql--churn-prediction-dev-"
      redis_cache             = "redis-churn-prediction-dev-f3e9e0"
    }
  }

  expect_failures = [var.names]
}

run "each_workload_gets_its_own_federated_identity" {
  command = plan

  assert {
    condition     = azurerm_federated_identity_credential.workload["monitor"].subject == "system:serviceaccount:churn-prediction-monitoring:churn-prediction-monitor"
    error_message = "The federated credential must trust exactly the workload's namespace/ServiceAccount."
  }

  assert {
    condition     = length(azurerm_user_assigned_identity.workload) == 4 && length(azurerm_role_assignment.workload) == 4
    error_message = "One identity per workload and one role assignment per grant."
  }

  assert {
    condition     = azurerm_role_assignment.workload["triton_model_repository"].role_definition_name == "Storage Blob Data Reader"
    error_message = "Triton only reads the model repository."
  }
}

run "batch_pattern_gives_the_queue_worker_the_inference_log" {
  command = plan

  variables {
    workload_identities = {
      triton       = { namespace = "churn-prediction-dev", service_account = "triton" }
      mlflow       = { namespace = "mlflow", service_account = "mlflow" }
      monitor      = { namespace = "churn-prediction-monitoring", service_account = "churn-prediction-monitor" }
      airflow      = { namespace = "airflow", service_account = "airflow-worker" }
      batch_worker = { namespace = "churn-prediction-dev", service_account = "batch-worker" }
    }
  }

  assert {
    condition     = azurerm_user_assigned_identity.workload["batch_worker"].name == "id-churn-prediction-dev-batch-worker" && azurerm_role_assignment.workload["batch_worker_inference_log"].role_definition_name == "Storage Blob Data Contributor"
    error_message = "The batch worker writes the inference log with an identity of its own."
  }
}

run "no_extension_is_allow_listed_by_default" {
  command = plan

  assert {
    condition     = length(azurerm_postgresql_flexible_server_configuration.extensions) == 0 && length(output.postgres_extensions) == 0
    error_message = "azure.extensions must stay untouched unless the project asks for an extension."
  }
}

run "pgvector_is_allow_listed" {
  command = plan

  variables {
    postgres_extensions = ["vector"]
  }

  assert {
    condition     = azurerm_postgresql_flexible_server_configuration.extensions[0].name == "azure.extensions" && azurerm_postgresql_flexible_server_configuration.extensions[0].value == "VECTOR"
    error_message = "pgvector must be allow-listed as azure.extensions = VECTOR."
  }

  assert {
    condition     = output.postgres_extensions == tolist(["vector"])
    error_message = "The application must be told to create pgvector."
  }
}

run "rejects_an_extension_that_is_not_wired" {
  command = plan

  variables {
    postgres_extensions = ["postgis"]
  }

  expect_failures = [var.postgres_extensions]
}
