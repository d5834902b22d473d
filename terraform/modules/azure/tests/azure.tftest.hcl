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

mock_provider "random" {}

variables {
  name        = "churn-prediction-dev"
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
