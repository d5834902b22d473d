# Blob Storage: MLflow artifacts, the Feast offline store, the Triton model repository (and edge
# bundles) and the inference log, one container each; no public access, no shared keys (Entra ID
# only), reachable through a private endpoint.
resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Encrypted at rest with Microsoft-managed keys plus infrastructure encryption; customer keys need a Key Vault per organization.
  #checkov:skip=CKV_AZURE_206:Prod replicates zone-redundantly (ZRS, local.prod); dev keeps LRS to save cost.
  #checkov:skip=CKV_AZURE_33:Queue service logging: the platform uses no queues in this account.
  #checkov:skip=CKV2_AZURE_33:Blob is reached through the private endpoint in network.tf (checkov does not link for_each endpoints).
  #checkov:skip=CKV_AZURE_43:The name is var.names.storage_account, validated in variables.tf as 3-24 lowercase letters and digits (the decision engine's rule); checkov cannot evaluate the env root's merge with name_overrides.
  name                              = var.names.storage_account
  location                          = azurerm_resource_group.this.location
  resource_group_name               = azurerm_resource_group.this.name
  account_tier                      = "Standard"
  account_replication_type          = local.prod ? "ZRS" : "LRS"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  public_network_access_enabled     = false
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  infrastructure_encryption_enabled = true
  tags                              = var.tags

  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = 14
    }
    container_delete_retention_policy {
      days = 14
    }
  }

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices"]
    virtual_network_subnet_ids = [azurerm_subnet.this["aks"].id]
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }
}

resource "azurerm_storage_container" "this" {
  #checkov:skip=CKV2_AZURE_21:Blob read logging is configured by the organization's diagnostic settings policy.
  for_each = {
    artifacts     = var.names.artifacts_container
    offline       = var.names.offline_container
    models        = var.names.models_container
    inference_log = var.names.inference_log_container
  }

  name                  = each.value
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

# Up to 0.6.0 the containers were keyed by their names.
moved {
  from = azurerm_storage_container.this["mlflow-artifacts"]
  to   = azurerm_storage_container.this["artifacts"]
}

moved {
  from = azurerm_storage_container.this["feast-offline"]
  to   = azurerm_storage_container.this["offline"]
}

# ACR: the serving images; AKS pulls with its kubelet identity (AcrPull), no admin user.
resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_139:Public network access can only be disabled on the Premium SKU; pushes come from CI runners outside the VNet.
  #checkov:skip=CKV_AZURE_163:Image vulnerability scanning is Microsoft Defender for Containers, enabled per subscription.
  #checkov:skip=CKV_AZURE_164:Signed images (content trust) need a signing pipeline per organization.
  #checkov:skip=CKV_AZURE_165:Geo-replication is Premium only; one region serves the cluster.
  #checkov:skip=CKV_AZURE_166:Quarantine is Premium only; images come from the project's own CI.
  #checkov:skip=CKV_AZURE_167:Untagged-manifest retention is Premium only.
  #checkov:skip=CKV_AZURE_233:Zone redundancy is Premium only.
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints are Premium only.
  name                = var.names.registry
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "Standard"
  admin_enabled       = false
  tags                = var.tags
}
