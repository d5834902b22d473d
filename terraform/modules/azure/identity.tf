# Workload identity: one user-assigned managed identity per Kubernetes ServiceAccount that touches
# storage, with a federated credential that trusts exactly that namespace/name on this cluster's
# OIDC issuer (oidc_issuer_enabled and workload_identity_enabled are on in cluster.tf). The
# storage account accepts Entra ID only (shared keys are off), so these are the way in.

locals {
  # Least privilege, the same table on every cloud: which workload reaches which container (key
  # of azurerm_storage_container.this), under which path prefix (the prefixes of platform.yaml's
  # URIs; Azure grants per container: a prefix narrows it through an ABAC condition on reads),
  # with which access. MLflow serves artifacts through its own server (--serve-artifacts), so
  # the drift job and training reach them through MLflow only.
  storage_grants = {
    triton_model_repository = { workload = "triton", bucket = "models", prefix = "triton/", access = "read" }
    mlflow_artifacts        = { workload = "mlflow", bucket = "artifacts", prefix = "", access = "read_write" }
    monitor_inference_log   = { workload = "monitor", bucket = "inference_log", prefix = "inference-log/", access = "read" }
    airflow_offline_store   = { workload = "airflow", bucket = "offline", prefix = "", access = "read_write" }
  }
  # The edge pattern: devices upload their inference logs under edge/logs/, which the drift job reads.
  edge_grants = {
    monitor_edge_logs = { workload = "monitor", bucket = "models", prefix = "edge/logs/", access = "read" }
  }
  # The batch pattern: the queue worker calls Triton through the project's client, which writes
  # the inference log (in the realtime and edge patterns the callers and devices write it).
  batch_grants = {
    batch_worker_inference_log = { workload = "batch_worker", bucket = "inference_log", prefix = "inference-log/", access = "write" }
  }
  grants = merge(
    local.storage_grants,
    var.edge_sync ? local.edge_grants : {},
    var.workload_identities.batch_worker != null ? local.batch_grants : {},
  )
  # The workloads this stack runs (batch_worker only with the batch pattern).
  workloads = { for key, account in var.workload_identities : key => account if account != null }

  blob_roles = {
    read       = "Storage Blob Data Reader"
    write      = "Storage Blob Data Contributor"
    read_write = "Storage Blob Data Contributor"
  }
}

resource "azurerm_user_assigned_identity" "workload" {
  for_each = local.workloads

  name                = "id-${local.name}-${replace(each.key, "_", "-")}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "workload" {
  for_each = local.workloads

  name                = "aks-${each.value.namespace}-${each.value.service_account}"
  resource_group_name = azurerm_resource_group.this.name
  parent_id           = azurerm_user_assigned_identity.workload[each.key].id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject             = "system:serviceaccount:${each.value.namespace}:${each.value.service_account}"
}

resource "azurerm_role_assignment" "workload" {
  for_each = local.grants

  scope                = azurerm_storage_container.this[each.value.bucket].id
  role_definition_name = local.blob_roles[each.value.access]
  principal_id         = azurerm_user_assigned_identity.workload[each.value.workload].principal_id
  principal_type       = "ServicePrincipal"
  description          = "${each.value.workload}: ${each.value.access} ${each.value.prefix == "" ? "the container" : "${each.value.prefix}*"}"

  # Reads of a prefix grant: blob reads only under that path (listing stays container-wide).
  condition_version = each.value.prefix != "" && each.value.access == "read" ? "2.0" : null
  condition = each.value.prefix != "" && each.value.access == "read" ? join(" ", [
    "((!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'}))",
    "OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith '${each.value.prefix}'))",
  ]) : null
}
