# Outputs the other layers read (endpoints, names, secret references). No secret values.

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "gpu_node_pool" {
  description = "The GPU node group: instance type, autoscaling range, taint and labels (what the serving layer tolerates and selects)."
  value = {
    name          = aws_eks_node_group.gpu.node_group_name
    instance_type = var.gpu_node_pool.instance_type
    min_nodes     = var.gpu_node_pool.min_nodes
    max_nodes     = var.gpu_node_pool.max_nodes
    taint         = var.gpu_node_pool.taint
    labels        = var.gpu_node_pool.labels
  }
}

output "artifact_bucket" {
  description = "S3 bucket of MLflow artifacts (s3://...)."
  value       = aws_s3_bucket.this["artifacts"].bucket
}

output "offline_store_bucket" {
  description = "S3 bucket of the Feast offline store."
  value       = aws_s3_bucket.this["offline"].bucket
}

output "models_bucket" {
  description = "S3 bucket of the Triton model repository (triton/) and the edge bundles (edge/)."
  value       = aws_s3_bucket.this["models"].bucket
}

output "inference_log_bucket" {
  description = "S3 bucket of the inference log (the drift job's input)."
  value       = aws_s3_bucket.this["inference_log"].bucket
}

output "postgres_endpoint" {
  description = "host:port of PostgreSQL (database platform)."
  value       = aws_db_instance.postgres.endpoint
}

output "postgres_secret_ref" {
  description = "Secrets Manager ARN of the PostgreSQL admin credentials (managed by RDS)."
  value       = aws_db_instance.postgres.master_user_secret[0].secret_arn
}

output "postgres_extensions" {
  description = "Extensions the application must CREATE EXTENSION IF NOT EXISTS in the platform database (as the master user, from inside the VPC); RDS ships them and this module checked the engine version."
  value       = var.postgres_extensions
}

output "redis_endpoint" {
  description = "host:port of Redis (TLS)."
  value       = "${aws_elasticache_replication_group.redis.primary_endpoint_address}:${aws_elasticache_replication_group.redis.port}"
}

output "redis_secret_ref" {
  description = "Secrets Manager ARN of the Redis AUTH token."
  value       = aws_secretsmanager_secret.redis.arn
}

output "registry_url" {
  description = "ECR repository URL for the serving images."
  value       = aws_ecr_repository.this.repository_url
}

output "budget_alert_topic" {
  description = "SNS topic ARN that receives the budget alerts."
  value       = aws_sns_topic.budget.arn
}

output "workload_identities" {
  description = "Per workload: its ServiceAccount, the IAM role it assumes (IRSA) and the annotations that bind them (`make identities` writes them into the manifests)."
  value = {
    for key, account in local.workloads : key => {
      namespace       = account.namespace
      service_account = account.service_account
      identity        = aws_iam_role.workload[key].arn
      annotations     = { "eks.amazonaws.com/role-arn" = aws_iam_role.workload[key].arn }
      pod_labels      = {}
    }
  }
}

output "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider (IRSA)."
  value       = aws_iam_openid_connect_provider.cluster.arn
}
