variable "names" {
  description = "Every resource name, decided by the decision engine (platform.yaml decisions.names): prefix (of every resource, e.g. churn-prediction-dev) and the S3 buckets (globally unique, suffixed)."
  type = object({
    prefix               = string
    artifacts_bucket     = string
    offline_bucket       = string
    models_bucket        = string
    inference_log_bucket = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,36}[a-z0-9]$", var.names.prefix)) && !strcontains(var.names.prefix, "--")
    error_message = "names.prefix must be 2-38 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit (ElastiCache ids allow 40)."
  }

  validation {
    condition = alltrue([
      for bucket in [var.names.artifacts_bucket, var.names.offline_bucket, var.names.models_bucket, var.names.inference_log_bucket] :
      can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", bucket)) && !strcontains(bucket, "--") && !startswith(bucket, "xn--") && !startswith(bucket, "sthree-")
    ])
    error_message = "S3 bucket names (names.*_bucket) must be 3-63 lowercase letters, digits or '-', start and end with a letter or digit, and not start with xn-- or sthree-."
  }
}

variable "environment" {
  description = "dev or prod: prod gets multi-AZ databases and deletion protection."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "The environment must be dev or prod."
  }
}

variable "tags" {
  description = "Cost tags (module cost_tags, output tags): set on every resource, and on instances and volumes through the GPU launch template."
  type        = map(string)

  validation {
    condition     = alltrue([for key in ["project", "environment", "owner", "cost-center", "managed-by", "model"] : contains(keys(var.tags), key)])
    error_message = "The tags must hold every cost tag: project, environment, owner, cost-center, managed-by, model."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.33"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC (a /16 leaves room for pods)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zone_count" {
  description = "Availability zones to spread subnets over."
  type        = number
  default     = 2
}

variable "cluster_endpoint_public_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API from outside the VPC; empty keeps the endpoint private."
  type        = list(string)
  default     = []
}

variable "system_node_pool" {
  description = "CPU node group for system pods, Airflow, MLflow and Feast."
  type = object({
    instance_type = string
    min_nodes     = number
    max_nodes     = number
  })
  default = { instance_type = "m6i.large", min_nodes = 2, max_nodes = 4 }
}

variable "gpu_node_pool" {
  description = "GPU node group as the decision engine sized it (platform.yaml decisions.gpu; instance_type, min/max nodes, provider_taint, labels)."
  type = object({
    instance_type = string
    min_nodes     = number
    max_nodes     = number
    taint         = object({ key = string, value = string, effect = string })
    labels        = map(string)
  })

  validation {
    condition     = var.gpu_node_pool.min_nodes >= 0 && var.gpu_node_pool.max_nodes >= max(1, var.gpu_node_pool.min_nodes)
    error_message = "The GPU pool needs 0 <= min_nodes <= max_nodes and max_nodes >= 1."
  }
}

variable "postgres" {
  description = "RDS PostgreSQL for MLflow, Airflow and the Feast registry."
  type = object({
    instance_class    = string
    allocated_storage = number
    engine_version    = string
  })
  default = { instance_class = "db.t4g.medium", allocated_storage = 50, engine_version = "16" }
}

variable "postgres_extensions" {
  description = "PostgreSQL extensions the application creates in the platform database: [\"vector\"] (pgvector) when a search/RAG project keeps its index there (decisions.model.rag.cloud_store = pgvector). RDS ships pgvector and needs no parameter for it: the module checks that postgres.engine_version carries it, and the application runs CREATE EXTENSION IF NOT EXISTS as the master user (rds_superuser), since the database is reachable from inside the VPC only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for extension in var.postgres_extensions : contains(["vector"], extension)])
    error_message = "postgres_extensions may hold only \"vector\" (pgvector); other extensions are not wired."
  }

  # pgvector with HNSW indexes (0.5.0+, which the RAG store builds) shipped on RDS with 15.4, 14.9 and
  # 13.12 (R2 patches; auto_minor_version_upgrade keeps the patch current) and with every 16+ minor.
  # A major version alone ("16") creates the newest minor. Terraform >= 1.9 lets a validation read var.postgres.
  validation {
    condition = !contains(var.postgres_extensions, "vector") || try(alltrue([
      for version in [concat(split(".", var.postgres.engine_version), ["999"])] :
      tonumber(version[0]) >= 13 && tonumber(version[1]) >= lookup({ "13" = 12, "14" = 9, "15" = 4 }, version[0], 0)
    ]), false)
    error_message = "pgvector (postgres_extensions = [\"vector\"]) needs RDS PostgreSQL 13.12, 14.9, 15.4 or any 16+ (postgres.engine_version)."
  }
}

variable "redis_node_type" {
  description = "ElastiCache node type of the Feast online store."
  type        = string
  default     = "cache.t4g.small"
}

variable "monthly_budget_usd" {
  description = "Monthly budget (the decision engine's estimate for this environment); alerts at 80% and 100%."
  type        = number

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "The monthly budget must be above 0."
  }
}

variable "budget_alert_emails" {
  description = "Addresses that get the budget alerts (they also go to the SNS topic in the outputs)."
  type        = list(string)
  default     = []
}

variable "activate_cost_allocation_tags" {
  description = "Activate the cost tags as AWS cost allocation tags (fails until billing has seen the keys, ~24 h after the first tagged resource)."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the cluster and flow logs."
  type        = number
  default     = 365
}

variable "workload_identities" {
  description = "The Kubernetes ServiceAccount (namespace, name) of each workload that touches storage: triton (model repository), mlflow (artifacts), monitor (the drift job: inference log), airflow (the ETL worker: offline store) and, with the batch pattern, batch_worker (the inference log). Each gets its own IAM role, trusted by exactly that account."
  type = object({
    triton  = object({ namespace = string, service_account = string })
    mlflow  = object({ namespace = string, service_account = string })
    monitor = object({ namespace = string, service_account = string })
    airflow = object({ namespace = string, service_account = string })
    # The batch pattern's queue worker (it writes the inference log); null without it.
    batch_worker = optional(object({ namespace = string, service_account = string }))
  })
}

variable "edge_sync" {
  description = "The edge serving pattern: the drift job also reads the devices' logs under edge/logs/ of the models bucket."
  type        = bool
  default     = false
}
