# The platform on GCP: VPC, a private regional GKE cluster with a CPU system pool and the sized GPU
# pool, GCS for MLflow artifacts, the Feast offline store, the Triton model repository and the
# inference log, Cloud SQL PostgreSQL, Memorystore Redis, Artifact Registry, and a billing budget.
# Cost labels: the caller sets them as provider default_labels (labels of most resources); this
# module also sets them explicitly where default_labels do not reach: the cluster's
# resource_labels, each node pool's node_config.resource_labels (the VMs that carry the spend),
# Cloud SQL user_labels, and on every labelled resource so the module stands on its own.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  name = var.names.prefix # every name comes from var.names (platform.yaml decisions.names)
  prod = var.environment == "prod"
}

# One key ring: GKE secrets encryption and the buckets' default key.
resource "google_kms_key_ring" "this" {
  name     = local.name
  location = var.region
  project  = var.project_id
}

resource "google_kms_crypto_key" "this" {
  #checkov:skip=CKV_GCP_82:`make destroy` must work in dev; GCP never deletes a key outright (versions are scheduled for destruction after 30 days).
  name            = "platform"
  key_ring        = google_kms_key_ring.this.id
  rotation_period = "7776000s" # 90 days
  labels          = var.labels
}

data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_kms_crypto_key_iam_member" "users" {
  for_each = {
    gke = "serviceAccount:service-${data.google_project.this.number}@container-engine-robot.iam.gserviceaccount.com"
    gcs = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
  }

  crypto_key_id = google_kms_crypto_key.this.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}
