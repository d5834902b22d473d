# GCS: MLflow artifacts, the Feast offline store, the Triton model repository (and edge bundles) and
# the inference log; private, versioned, encrypted with the key. Names: var.names (global, suffixed).
resource "google_storage_bucket" "this" {
  #checkov:skip=CKV_GCP_62:Access logs go to the organization's central audit logs (Data Access audit logs), not a per-project bucket.
  for_each = {
    artifacts     = var.names.artifacts_bucket
    offline       = var.names.offline_bucket
    models        = var.names.models_bucket
    inference_log = var.names.inference_log_bucket
  }

  name                        = each.value
  project                     = var.project_id
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !local.prod
  labels                      = var.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.this.id
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 5
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_kms_crypto_key_iam_member.users]
}

# Artifact Registry: the serving images.
resource "google_artifact_registry_repository" "this" {
  #checkov:skip=CKV_GCP_84:Images hold no data; Google-managed encryption at rest suffices and avoids a per-service KMS grant.
  repository_id = local.name
  project       = var.project_id
  location      = var.region
  format        = "DOCKER"
  description   = "${local.name}: serving images"
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }
}
