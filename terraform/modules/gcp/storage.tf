# GCS: MLflow artifacts and the Feast offline store, private, versioned, encrypted with the key.
resource "google_storage_bucket" "this" {
  #checkov:skip=CKV_GCP_62:Access logs go to the organization's central audit logs (Data Access audit logs), not a per-project bucket.
  for_each = {
    artifacts = "${var.name}-mlflow-artifacts-${data.google_project.this.number}"
    offline   = "${var.name}-feast-offline-${data.google_project.this.number}"
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
  repository_id = var.name
  project       = var.project_id
  location      = var.region
  format        = "DOCKER"
  description   = "${var.name}: serving images"
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }
}
