# The platform on Azure: VNet, AKS with a CPU system pool and the sized GPU pool, Blob Storage for
# MLflow artifacts, the Feast offline store, the Triton model repository and the inference log,
# PostgreSQL flexible server, Azure Cache for Redis, ACR, and a Cost Management budget on the
# resource group.
# Cost tags: azurerm has no provider-level default tags, so every resource merges var.tags
# (node pools included: AKS copies them onto the VM scale sets that carry the GPU spend).

data "azurerm_client_config" "current" {}

locals {
  # Every name comes from var.names (platform.yaml decisions.names): the storage account, registry,
  # PostgreSQL and Redis names are global (DNS) and carry the project's suffix.
  name = var.names.prefix
  prod = var.environment == "prod"
  postgres_admin = coalesce(var.postgres_admin, {
    object_id      = data.azurerm_client_config.current.object_id
    principal_name = "terraform"
    principal_type = "ServicePrincipal"
  })
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${local.name}"
  location = var.location
  tags     = var.tags
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = "log-${local.name}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = local.prod ? 90 : 30
  tags                = var.tags
}
