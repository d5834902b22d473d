# Outputs the other layers read (endpoints, names, secret references). No secret values.

output "cluster_name" {
  description = "GKE cluster name (gcloud container clusters get-credentials ...)."
  value       = google_container_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint (private unless master_authorized_cidrs are set)."
  value       = google_container_cluster.this.endpoint
}

output "gpu_node_pool" {
  description = "The GPU node pool: machine type, accelerator, autoscaling range, taint and labels (what the serving layer tolerates and selects)."
  value = {
    name              = google_container_node_pool.this["gpu"].name
    machine_type      = var.gpu_node_pool.machine_type
    accelerator_type  = var.gpu_node_pool.accelerator_type
    accelerator_count = var.gpu_node_pool.accelerator_count
    min_nodes         = var.gpu_node_pool.min_nodes
    max_nodes         = var.gpu_node_pool.max_nodes
    taint             = var.gpu_node_pool.taint
    labels            = var.gpu_node_pool.labels
  }
}

output "artifact_bucket" {
  description = "GCS bucket of MLflow artifacts (gs://...)."
  value       = google_storage_bucket.this["artifacts"].name
}

output "offline_store_bucket" {
  description = "GCS bucket of the Feast offline store."
  value       = google_storage_bucket.this["offline"].name
}

output "models_bucket" {
  description = "GCS bucket of the Triton model repository (triton/) and the edge bundles (edge/)."
  value       = google_storage_bucket.this["models"].name
}

output "inference_log_bucket" {
  description = "GCS bucket of the inference log (the drift job's input)."
  value       = google_storage_bucket.this["inference_log"].name
}

output "postgres_endpoint" {
  description = "Private IP:port of Cloud SQL PostgreSQL (database platform)."
  value       = "${google_sql_database_instance.postgres.private_ip_address}:5432"
}

output "postgres_connection_name" {
  description = "Cloud SQL connection name (for the Cloud SQL Auth Proxy)."
  value       = google_sql_database_instance.postgres.connection_name
}

output "postgres_secret_ref" {
  description = "Secret Manager secret holding the PostgreSQL admin password."
  value       = google_secret_manager_secret.postgres.id
}

output "postgres_extensions" {
  description = "Extensions the application must CREATE EXTENSION IF NOT EXISTS in the platform database (as platform_admin, from the VPC); Cloud SQL ships them and this module checked postgres_version."
  value       = var.postgres_extensions
}

output "redis_endpoint" {
  description = "host:port of Memorystore Redis (TLS, AUTH on)."
  value       = "${google_redis_instance.feast.host}:${google_redis_instance.feast.port}"
}

output "redis_secret_ref" {
  description = "Where the Redis AUTH string lives (read it with gcloud; it is not an output)."
  value       = "gcloud redis instances get-auth-string ${google_redis_instance.feast.name} --region ${var.region} --project ${var.project_id}"
}

output "registry_url" {
  description = "Artifact Registry Docker URL for the serving images."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}"
}

output "budget_name" {
  description = "The billing budget's resource name."
  value       = google_billing_budget.monthly.name
}

output "workload_identities" {
  description = "Per workload: its ServiceAccount, the Google service account it acts as (Workload Identity) and the annotations that bind them (`make identities` writes them into the manifests)."
  value = {
    for key, account in local.workloads : key => {
      namespace       = account.namespace
      service_account = account.service_account
      identity        = google_service_account.workload[key].email
      annotations     = { "iam.gke.io/gcp-service-account" = google_service_account.workload[key].email }
      pod_labels      = {}
    }
  }
}
