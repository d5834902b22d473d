# The platform on Azure: VNet, AKS with a CPU system pool and the sized GPU pool, Blob Storage for
# MLflow artifacts and the Feast offline store, PostgreSQL flexible server, Azure Cache for Redis,
# ACR, and a Cost Management budget on the resource group.
# Cost tags: azurerm has no provider-level default tags, so every resource merges var.tags
# (node pools included: AKS copies them onto the VM scale sets that carry the GPU spend).

data "azurerm_client_config" "current" {}

locals {
  prod = var.environment == "prod"
  # Storage account names: 3-24 lowercase letters and digits, globally unique.
  storage_account_name = "${substr(replace(var.name, "-", ""), 0, 16)}${random_string.suffix.result}"
  postgres_admin = coalesce(var.postgres_admin, {
    object_id      = data.azurerm_client_config.current.object_id
    principal_name = "terraform"
    principal_type = "ServicePrincipal"
  })
}

resource "random_string" "suffix" {
  length  = 8
  special = false
  upper   = false
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${var.name}"
  location = var.location
  tags     = var.tags
}

resource "azurerm_log_analytics_workspace" "this" {
  name                = "log-${var.name}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "PerGB2018"
  retention_in_days   = local.prod ? 90 : 30
  tags                = var.tags
}
