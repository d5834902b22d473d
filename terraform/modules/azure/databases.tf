# PostgreSQL flexible server (MLflow backend, Airflow metadata, Feast registry) in a delegated
# subnet, Entra ID login only (no password anywhere); Redis (Feast online store) behind a private
# endpoint, TLS only. Outputs carry host names and where credentials come from, no secrets.

resource "azurerm_postgresql_flexible_server" "this" {
  #checkov:skip=CKV2_AZURE_57:VNet-integrated in a delegated subnet with public access off: a private endpoint does not apply to this networking mode.
  name                          = var.names.postgres_server
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  version                       = "16"
  sku_name                      = coalesce(var.postgres_sku, local.prod ? "GP_Standard_D2ds_v5" : "B_Standard_B2s")
  storage_mb                    = 65536
  delegated_subnet_id           = azurerm_subnet.this["postgres"].id
  private_dns_zone_id           = azurerm_private_dns_zone.this["postgres"].id
  public_network_access_enabled = false
  backup_retention_days         = local.prod ? 35 : 7
  geo_redundant_backup_enabled  = local.prod
  zone                          = "1"
  tags                          = var.tags

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = false
    tenant_id                     = data.azurerm_client_config.current.tenant_id
  }

  dynamic "high_availability" {
    for_each = local.prod ? [1] : []
    content {
      mode = "ZoneRedundant"
    }
  }

  depends_on = [azurerm_private_dns_zone_virtual_network_link.this]
}

resource "azurerm_postgresql_flexible_server_active_directory_administrator" "this" {
  server_name         = azurerm_postgresql_flexible_server.this.name
  resource_group_name = azurerm_resource_group.this.name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  object_id           = local.postgres_admin.object_id
  principal_name      = local.postgres_admin.principal_name
  principal_type      = local.postgres_admin.principal_type
}

resource "azurerm_postgresql_flexible_server_database" "platform" {
  name      = "platform"
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_postgresql_flexible_server_configuration" "this" {
  for_each = {
    log_checkpoints              = "on"
    log_connections              = "on"
    log_disconnections           = "on"
    "connection_throttle.enable" = "on"
    "logfiles.retention_days"    = "7"
  }

  name      = each.key
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = each.value
}

# Extensions (var.postgres_extensions, e.g. pgvector for a RAG index) must be allow-listed in the
# server parameter azure.extensions (upper-case, comma-separated, as the provider's example) before
# CREATE EXTENSION works; pgvector needs no shared_preload_libraries entry. The application creates
# the extension in the platform database (CREATE EXTENSION IF NOT EXISTS vector, as an azure_pg_admin
# member) from inside the VNet. The provider serialises configuration writes per server (no
# ServerIsBusy race with the settings above) and restarts the server only for a static parameter.
resource "azurerm_postgresql_flexible_server_configuration" "extensions" {
  count = length(var.postgres_extensions) > 0 ? 1 : 0

  name      = "azure.extensions"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = upper(join(",", sort(distinct(var.postgres_extensions))))
}

resource "azurerm_redis_cache" "this" {
  name                          = var.names.redis_cache
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  sku_name                      = "Standard"
  family                        = "C"
  capacity                      = local.prod ? 1 : 0
  non_ssl_port_enabled          = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = false
  tags                          = var.tags

  redis_configuration {
    authentication_enabled                  = true
    active_directory_authentication_enabled = true
  }
}
