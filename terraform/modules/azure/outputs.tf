# Outputs the other layers read (endpoints, names, secret references). No secret values.

output "resource_group" {
  description = "Resource group holding the environment."
  value       = azurerm_resource_group.this.name
}

output "cluster_name" {
  description = "AKS cluster name (az aks get-credentials ...)."
  value       = azurerm_kubernetes_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API FQDN (private FQDN when the cluster is private)."
  value       = coalesce(azurerm_kubernetes_cluster.this.fqdn, azurerm_kubernetes_cluster.this.private_fqdn)
}

output "gpu_node_pool" {
  description = "The GPU node pool: VM size, autoscaling range, taint and labels (what the serving layer tolerates and selects)."
  value = {
    name      = azurerm_kubernetes_cluster_node_pool.gpu.name
    vm_size   = var.gpu_node_pool.vm_size
    min_nodes = var.gpu_node_pool.min_nodes
    max_nodes = var.gpu_node_pool.max_nodes
    taint     = var.gpu_node_pool.taint
    labels    = var.gpu_node_pool.labels
  }
}

output "storage_account" {
  description = "Storage account of the artifacts and the offline store (Entra ID auth)."
  value       = azurerm_storage_account.this.name
}

output "artifact_bucket" {
  description = "Blob container of MLflow artifacts (wasbs://mlflow-artifacts@<account>...)."
  value       = "${azurerm_storage_account.this.name}/${azurerm_storage_container.this["artifacts"].name}"
}

output "offline_store_bucket" {
  description = "Blob container of the Feast offline store."
  value       = "${azurerm_storage_account.this.name}/${azurerm_storage_container.this["offline"].name}"
}

output "models_bucket" {
  description = "Blob container of the Triton model repository (triton/) and the edge bundles (edge/), as account/container."
  value       = "${azurerm_storage_account.this.name}/${azurerm_storage_container.this["models"].name}"
}

output "inference_log_bucket" {
  description = "Blob container of the inference log (the drift job's input), as account/container."
  value       = "${azurerm_storage_account.this.name}/${azurerm_storage_container.this["inference_log"].name}"
}

output "postgres_endpoint" {
  description = "host:port of PostgreSQL (database platform)."
  value       = "${azurerm_postgresql_flexible_server.this.fqdn}:5432"
}

output "postgres_secret_ref" {
  description = "How to log in: Entra ID tokens (workload identity); there is no password."
  value       = "entra-id:${local.postgres_admin.principal_name}"
}

output "postgres_extensions" {
  description = "Extensions the application must CREATE EXTENSION IF NOT EXISTS in the platform database (as a member of azure_pg_admin, from the VNet); this module allow-listed them in azure.extensions."
  value       = var.postgres_extensions
}

output "redis_endpoint" {
  description = "host:port of Redis (TLS)."
  value       = "${azurerm_redis_cache.this.hostname}:${azurerm_redis_cache.this.ssl_port}"
}

output "redis_secret_ref" {
  description = "How to log in: Entra ID (workload identity); access keys are not exported."
  value       = "entra-id:${azurerm_redis_cache.this.name}"
}

output "registry_url" {
  description = "ACR login server for the serving images."
  value       = azurerm_container_registry.this.login_server
}

output "budget_id" {
  description = "The Cost Management budget."
  value       = azurerm_consumption_budget_resource_group.monthly.id
}

output "workload_identities" {
  description = "Per workload: its ServiceAccount, the managed identity's client ID (workload identity) and the annotations and pod labels that bind them (`make identities` writes them into the manifests)."
  value = {
    for key, account in local.workloads : key => {
      namespace       = account.namespace
      service_account = account.service_account
      identity        = azurerm_user_assigned_identity.workload[key].client_id
      annotations = {
        "azure.workload.identity/client-id" = azurerm_user_assigned_identity.workload[key].client_id
        "azure.workload.identity/tenant-id" = azurerm_user_assigned_identity.workload[key].tenant_id
      }
      # The webhook injects the token only into pods that carry this label.
      pod_labels = { "azure.workload.identity/use" = "true" }
      # Triton reads as:// with a shared key unless told to use the Azure credential chain (which
      # takes the webhook's federated token); the account allows no shared keys.
      container_env = key == "triton" ? { AZURE_STORAGE_AUTH_TYPE = "default" } : {}
    }
  }
}

output "oidc_issuer_url" {
  description = "The cluster's OIDC issuer (federated credentials trust it)."
  value       = azurerm_kubernetes_cluster.this.oidc_issuer_url
}
