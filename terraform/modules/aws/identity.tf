# Workload identity (IRSA): the cluster's OIDC provider and one IAM role per Kubernetes
# ServiceAccount that touches storage, trusted by exactly that namespace/name. Pods get no
# credentials from the nodes (IMDS hop limit 1), so these roles are the only way to the buckets.

resource "aws_iam_openid_connect_provider" "cluster" {
  url            = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

locals {
  oidc_issuer = trimprefix(aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://")

  # Least privilege, the same table on every cloud: which workload reaches which bucket (key of
  # local.buckets), under which key prefix ("" = the whole bucket; the prefixes are those of
  # platform.yaml's URIs), with which access. MLflow serves artifacts through its own server
  # (--serve-artifacts), so the drift job and training reach the artifacts through MLflow only.
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

  object_actions = {
    read       = ["s3:GetObject"]
    write      = ["s3:PutObject", "s3:AbortMultipartUpload"]
    read_write = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
  }
  # SSE-KMS buckets: reading decrypts with the key, writing asks it for a data key.
  kms_actions = {
    read       = ["kms:Decrypt"]
    write      = ["kms:GenerateDataKey"]
    read_write = ["kms:Decrypt", "kms:GenerateDataKey"]
  }
}

data "aws_iam_policy_document" "workload_trust" {
  for_each = local.workloads

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.cluster.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${each.value.namespace}:${each.value.service_account}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "workload" {
  for_each = local.workloads

  name               = "${local.name}-${replace(each.key, "_", "-")}"
  description        = "IRSA role of ServiceAccount ${each.value.namespace}/${each.value.service_account}"
  assume_role_policy = data.aws_iam_policy_document.workload_trust[each.key].json
  tags               = var.tags
}

data "aws_iam_policy_document" "workload_storage" {
  for_each = local.workloads

  dynamic "statement" {
    for_each = { for key, grant in local.grants : key => grant if grant.workload == each.key }
    content {
      sid       = replace(title(replace(statement.key, "_", " ")), " ", "")
      actions   = local.object_actions[statement.value.access]
      resources = ["${aws_s3_bucket.this[statement.value.bucket].arn}/${statement.value.prefix}*"]
    }
  }

  # Listing: only the keys under the granted prefix.
  dynamic "statement" {
    for_each = { for key, grant in local.grants : key => grant if grant.workload == each.key && grant.access != "write" }
    content {
      sid       = "List${replace(title(replace(statement.key, "_", " ")), " ", "")}"
      actions   = ["s3:ListBucket"]
      resources = [aws_s3_bucket.this[statement.value.bucket].arn]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${statement.value.prefix}*"]
      }
    }
  }

  statement {
    sid       = "BucketKey"
    actions   = distinct(flatten([for grant in local.grants : local.kms_actions[grant.access] if grant.workload == each.key]))
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "workload_storage" {
  for_each = local.workloads

  name   = "storage"
  role   = aws_iam_role.workload[each.key].id
  policy = data.aws_iam_policy_document.workload_storage[each.key].json
}
