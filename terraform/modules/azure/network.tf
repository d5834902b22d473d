resource "azurerm_virtual_network" "this" {
  name                = "vnet-${local.name}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = [var.vnet_cidr]
  tags                = var.tags
}

locals {
  subnets = {
    aks       = { cidr = cidrsubnet(var.vnet_cidr, 4, 0), delegation = null }
    endpoints = { cidr = cidrsubnet(var.vnet_cidr, 8, 16), delegation = null }
    postgres  = { cidr = cidrsubnet(var.vnet_cidr, 8, 17), delegation = "Microsoft.DBforPostgreSQL/flexibleServers" }
  }
}

resource "azurerm_subnet" "this" {
  #checkov:skip=CKV2_AZURE_31:Every subnet gets the NSG through azurerm_subnet_network_security_group_association.this (for_each over all of them).
  for_each = local.subnets

  name                              = "snet-${each.key}"
  resource_group_name               = azurerm_resource_group.this.name
  virtual_network_name              = azurerm_virtual_network.this.name
  address_prefixes                  = [each.value.cidr]
  private_endpoint_network_policies = "Enabled"
  service_endpoints                 = each.key == "postgres" ? [] : ["Microsoft.Storage"]

  dynamic "delegation" {
    for_each = each.value.delegation == null ? [] : [each.value.delegation]
    content {
      name = "delegation"
      service_delegation {
        name    = delegation.value
        actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
      }
    }
  }
}

# Default rules only (VNet-internal traffic in, nothing from the internet); AKS adds its own.
resource "azurerm_network_security_group" "this" {
  name                = "nsg-${local.name}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_subnet_network_security_group_association" "this" {
  for_each = azurerm_subnet.this

  subnet_id                 = each.value.id
  network_security_group_id = azurerm_network_security_group.this.id
}

# Private DNS: the data services resolve to private addresses inside the VNet.
resource "azurerm_private_dns_zone" "this" {
  for_each = {
    postgres = "privatelink.postgres.database.azure.com"
    blob     = "privatelink.blob.core.windows.net"
    redis    = "privatelink.redis.cache.windows.net"
  }

  name                = each.value
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  for_each = azurerm_private_dns_zone.this

  name                  = "link-${each.key}"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = each.value.name
  virtual_network_id    = azurerm_virtual_network.this.id
  tags                  = var.tags
}

resource "azurerm_private_endpoint" "this" {
  for_each = {
    blob  = { resource_id = azurerm_storage_account.this.id, subresource = "blob" }
    redis = { resource_id = azurerm_redis_cache.this.id, subresource = "redisCache" }
  }

  name                = "pe-${local.name}-${each.key}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.this["endpoints"].id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${each.key}"
    private_connection_resource_id = each.value.resource_id
    subresource_names              = [each.value.subresource]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [azurerm_private_dns_zone.this[each.key].id]
  }
}
