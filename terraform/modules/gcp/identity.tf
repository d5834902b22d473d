# Workload Identity: one Google service account per Kubernetes ServiceAccount that touches
# storage, usable by exactly that namespace/name (roles/iam.workloadIdentityUser on the GSA);
# the cluster's workload pool and the nodes' GKE_METADATA mode are set in cluster.tf.

locals {
  # Least privilege, the same table on every cloud: which workload reaches which bucket (key of
  # google_storage_bucket.this), under which object prefix ("" = the whole bucket; the prefixes
  # are those of platform.yaml's URIs), with which access. MLflow serves artifacts through its own
  # server (--serve-artifacts), so the drift job and training reach them through MLflow only.
  storage_grants = {
    triton_model_repository = { workload = "triton", bucket = "models", prefix = "triton/", access = "read" }
    mlflow_artifacts        = { workload = "mlflow", bucket = "artifacts", prefix = "", access = "read_write" }
    monitor_inference_log   = { workload = "monitor", bucket = "inference_log", prefix = "inference-log/", access = "read" }
    airflow_offline_store   = { workload = "airflow", bucket = "offline", prefix = "", access = "read_write" }
  }
  # The edge pattern: devices upload their inference logs under edge/logs/, which the drift job reads.
  edge_grants = {
    monitor_edge_logs = { workload = "monitor", bucket = "models", prefix = "edge/logs/", access = "read" }
  }
  # The batch pattern: the queue worker calls Triton through the project's client, which writes
  # the inference log (in the realtime and edge patterns the callers and devices write it).
  batch_grants = {
    batch_worker_inference_log = { workload = "batch_worker", bucket = "inference_log", prefix = "inference-log/", access = "write" }
  }
  grants = merge(
    local.storage_grants,
    var.edge_sync ? local.edge_grants : {},
    var.workload_identities.batch_worker != null ? local.batch_grants : {},
  )
  # The workloads this stack runs (batch_worker only with the batch pattern).
  workloads = { for key, account in var.workload_identities : key => account if account != null }

  object_roles = {
    read       = "roles/storage.objectViewer"
    write      = "roles/storage.objectCreator"
    read_write = "roles/storage.objectUser"
  }
  # Service account ids have 30 characters at most and names.prefix 24: short, fixed suffixes.
  workload_account_suffix = { triton = "serve", mlflow = "track", monitor = "drift", airflow = "etl", batch_worker = "batch" }
}

resource "google_service_account" "workload" {
  for_each = local.workloads

  account_id   = "${local.name}-${local.workload_account_suffix[each.key]}"
  project      = var.project_id
  display_name = "${local.name} ${each.key} (Kubernetes ${each.value.namespace}/${each.value.service_account})"
}

resource "google_service_account_iam_member" "workload_identity" {
  for_each = local.workloads

  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${each.value.namespace}/${each.value.service_account}]"
}

# Bucket-level grants; a prefix becomes an IAM condition on the object names (listing is a
# bucket-level call, so the condition lets it through and it shows names only).
resource "google_storage_bucket_iam_member" "workload" {
  for_each = local.grants

  bucket = google_storage_bucket.this[each.value.bucket].name
  role   = local.object_roles[each.value.access]
  member = "serviceAccount:${google_service_account.workload[each.value.workload].email}"

  dynamic "condition" {
    for_each = each.value.prefix == "" ? [] : [each.value.prefix]
    content {
      title      = "only-${trimsuffix(replace(condition.value, "/", "-"), "-")}"
      expression = "resource.type == \"storage.googleapis.com/Bucket\" || resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.this[each.value.bucket].name}/objects/${condition.value}\")"
    }
  }
}
