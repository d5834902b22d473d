# Cloud SQL PostgreSQL (MLflow backend, Airflow metadata, Feast registry) and Memorystore Redis
# (Feast online store), on private addresses only. The admin password lives in Secret Manager;
# outputs carry its secret name only.

resource "random_password" "postgres" {
  length  = 32
  special = false
}

# Extensions (var.postgres_extensions, e.g. pgvector for a RAG index): Cloud SQL ships them and
# pgvector needs no database flag; the application creates them in the platform database (CREATE
# EXTENSION IF NOT EXISTS vector, as platform_admin, a cloudsqlsuperuser), because only workloads
# on the VPC reach the instance. The variable's validation checks postgres_version.
resource "google_sql_database_instance" "postgres" {
  #checkov:skip=CKV_GCP_6:ssl_mode ENCRYPTED_ONLY rejects every unencrypted connection; client certificates are not used (Cloud SQL Auth Proxy / IAM).
  #checkov:skip=CKV_GCP_79:POSTGRES_16 (var.postgres_version) is the current major version the platform is tested on; bump it deliberately.
  name                = local.name
  project             = var.project_id
  region              = var.region
  database_version    = var.postgres_version
  deletion_protection = local.prod

  settings {
    tier              = var.postgres_tier
    availability_type = local.prod ? "REGIONAL" : "ZONAL"
    disk_autoresize   = true
    user_labels       = var.labels

    ip_configuration {
      ipv4_enabled                                  = false
      private_network                               = google_compute_network.this.id
      ssl_mode                                      = "ENCRYPTED_ONLY"
      enable_private_path_for_google_cloud_services = true
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = "03:00"
    }

    insights_config {
      query_insights_enabled = true
    }

    # Audit-friendly logging (CIS Cloud SQL PostgreSQL recommendations); static blocks so scanners see them.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }

  depends_on = [google_service_networking_connection.services]
}

resource "google_sql_database" "platform" {
  name     = "platform"
  project  = var.project_id
  instance = google_sql_database_instance.postgres.name
}

resource "google_sql_user" "admin" {
  name     = "platform_admin"
  project  = var.project_id
  instance = google_sql_database_instance.postgres.name
  password = random_password.postgres.result
}

resource "google_secret_manager_secret" "postgres" {
  secret_id = "${local.name}-postgres-admin"
  project   = var.project_id
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "postgres" {
  secret      = google_secret_manager_secret.postgres.id
  secret_data = random_password.postgres.result
}

resource "google_redis_instance" "feast" {
  name                    = local.name
  project                 = var.project_id
  region                  = var.region
  tier                    = local.prod ? "STANDARD_HA" : "BASIC"
  memory_size_gb          = var.redis_memory_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = google_compute_network.this.id
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  auth_enabled            = true # the AUTH string: gcloud redis instances get-auth-string
  transit_encryption_mode = "SERVER_AUTHENTICATION"
  labels                  = var.labels

  depends_on = [google_service_networking_connection.services]
}
