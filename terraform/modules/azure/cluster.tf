resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_117:Disks are encrypted at rest with platform keys and host encryption; a disk encryption set (customer keys) needs a Key Vault per organization.
  #checkov:skip=CKV_AZURE_115:Private unless api_server_authorized_cidrs are given, and then the API server accepts only those ranges (CKV_AZURE_6).
  #checkov:skip=CKV_AZURE_232:The platform services (Airflow, MLflow, Feast) share the system pool to keep the baseline at two small nodes; GPU work has its own tainted pool.
  #checkov:skip=CKV_AZURE_170:The paid SLA tier is used in prod (local.prod); dev runs the free tier.
  name                              = "aks-${local.name}"
  location                          = azurerm_resource_group.this.location
  resource_group_name               = azurerm_resource_group.this.name
  dns_prefix                        = local.name
  kubernetes_version                = var.kubernetes_version
  sku_tier                          = local.prod ? "Standard" : "Free"
  automatic_upgrade_channel         = "patch"
  node_os_upgrade_channel           = "NodeImage"
  private_cluster_enabled           = length(var.api_server_authorized_cidrs) == 0
  local_account_disabled            = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = true
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  tags                              = var.tags

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_node_pool.vm_size
    auto_scaling_enabled         = true
    min_count                    = var.system_node_pool.min_nodes
    max_count                    = var.system_node_pool.max_nodes
    only_critical_addons_enabled = false # the platform services (Airflow, MLflow, Feast) run here too
    vnet_subnet_id               = azurerm_subnet.this["aks"].id
    max_pods                     = 60
    os_disk_type                 = "Ephemeral"
    os_disk_size_gb              = 100
    host_encryption_enabled      = true
    node_labels                  = { workload = "system" }
    tags                         = var.tags

    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  dynamic "api_server_access_profile" {
    for_each = length(var.api_server_authorized_cidrs) > 0 ? [1] : []
    content {
      authorized_ip_ranges = var.api_server_authorized_cidrs
    }
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled = true
    tenant_id          = data.azurerm_client_config.current.tenant_id
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_policy      = "cilium"
    network_data_plane  = "cilium"
  }

  oms_agent {
    log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  }

  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  lifecycle {
    ignore_changes = [default_node_pool[0].node_count]
  }
}

# The GPU pool: AKS installs the NVIDIA driver; the NVIDIA device plugin DaemonSet runs in the
# cluster (see README). Taint and VM size can only be set when the pool is created.
resource "azurerm_kubernetes_cluster_node_pool" "gpu" {
  #checkov:skip=CKV_AZURE_227:Encryption at host is not offered on every GPU VM size; the OS disk is encrypted at rest with platform keys.
  name                  = "gpu"
  kubernetes_cluster_id = azurerm_kubernetes_cluster.this.id
  mode                  = "User"
  vm_size               = var.gpu_node_pool.vm_size
  auto_scaling_enabled  = true
  min_count             = var.gpu_node_pool.min_nodes
  max_count             = var.gpu_node_pool.max_nodes
  node_taints           = [var.gpu_node_pool.taint]
  node_labels           = var.gpu_node_pool.labels
  vnet_subnet_id        = azurerm_subnet.this["aks"].id
  max_pods              = 50
  os_disk_type          = "Managed" # GPU VM sizes' cache is too small for a 200 GB ephemeral disk
  os_disk_size_gb       = 200       # CUDA images and model weights
  tags                  = var.tags

  lifecycle {
    # AKS stores node-pool tag casing differently (provider docs); the autoscaler owns node_count.
    ignore_changes = [node_count]
  }
}

resource "azurerm_role_assignment" "acr_pull" {
  scope                            = azurerm_container_registry.this.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}
