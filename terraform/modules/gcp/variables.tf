variable "project_id" {
  description = "GCP project that holds this environment."
  type        = string
}

variable "billing_account_id" {
  description = "Billing account of the project (for the budget), e.g. 012345-6789AB-CDEF01."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account_id))
    error_message = "The billing_account_id must look like 012345-6789AB-CDEF01."
  }
}

variable "region" {
  description = "Region of the regional cluster and the data services."
  type        = string
}

variable "names" {
  description = "Every resource name, decided by the decision engine (platform.yaml decisions.names): prefix (of every resource, e.g. churn-prediction-dev) and the GCS buckets (globally unique, suffixed)."
  type = object({
    prefix               = string
    artifacts_bucket     = string
    offline_bucket       = string
    models_bucket        = string
    inference_log_bucket = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,22}[a-z0-9]$", var.names.prefix)) && !strcontains(var.names.prefix, "--")
    error_message = "names.prefix must be 2-24 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit (the node service account <prefix>-nodes has 30 at most)."
  }

  validation {
    condition = alltrue([
      for bucket in [var.names.artifacts_bucket, var.names.offline_bucket, var.names.models_bucket, var.names.inference_log_bucket] :
      can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", bucket)) && !startswith(bucket, "goog") && !strcontains(bucket, "google")
    ])
    error_message = "GCS bucket names (names.*_bucket) must be 3-63 lowercase letters, digits, '-' or '_', start and end with a letter or digit, and not start with goog or contain google."
  }
}

variable "environment" {
  description = "dev or prod: prod gets regional (HA) databases and deletion protection."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "The environment must be dev or prod."
  }
}

variable "labels" {
  description = "Cost labels (module cost_tags, output labels): on the cluster, every node pool's nodes and every labelled resource."
  type        = map(string)

  validation {
    condition     = alltrue([for key in ["project", "environment", "owner", "cost-center", "managed-by", "model"] : contains(keys(var.labels), key)])
    error_message = "The labels must hold every cost tag: project, environment, owner, cost-center, managed-by, model."
  }
}

variable "subnet_cidr" {
  description = "Primary range of the nodes' subnet."
  type        = string
  default     = "10.50.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range for pods."
  type        = string
  default     = "10.52.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range for services."
  type        = string
  default     = "10.56.0.0/20"
}

variable "master_cidr" {
  description = "The control plane's private /28."
  type        = string
  default     = "172.16.0.32/28"
}

variable "master_authorized_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API; empty keeps the endpoint private (VPC only)."
  type        = list(string)
  default     = []
}

variable "system_node_pool" {
  description = "CPU node pool for system pods, Airflow, MLflow and Feast."
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
  })
  default = { machine_type = "e2-standard-4", min_nodes = 1, max_nodes = 3 }
}

variable "gpu_node_pool" {
  description = "GPU node pool as the decision engine sized it (platform.yaml decisions.gpu; machine type, accelerator, GPUs per node, total min/max nodes, provider_taint, labels)."
  type = object({
    machine_type      = string
    accelerator_type  = string
    accelerator_count = number
    min_nodes         = number
    max_nodes         = number
    taint             = object({ key = string, value = string, effect = string })
    labels            = map(string)
    zones             = optional(list(string), [])
  })

  validation {
    condition     = var.gpu_node_pool.accelerator_type != "" && var.gpu_node_pool.accelerator_count >= 1
    error_message = "A GKE GPU pool needs an accelerator type (e.g. nvidia-l4) and at least one GPU per node."
  }

  validation {
    condition     = var.gpu_node_pool.min_nodes >= 0 && var.gpu_node_pool.max_nodes >= max(1, var.gpu_node_pool.min_nodes)
    error_message = "The GPU pool needs 0 <= min_nodes <= max_nodes and max_nodes >= 1."
  }
}

variable "postgres_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-custom-2-7680"
}

variable "postgres_version" {
  description = "Cloud SQL database_version (POSTGRES_<major>); the platform is tested on POSTGRES_16. Bump it deliberately (a major upgrade is an in-place Cloud SQL operation)."
  type        = string
  default     = "POSTGRES_16"

  validation {
    condition     = can(regex("^POSTGRES_[0-9]+$", var.postgres_version))
    error_message = "postgres_version must be POSTGRES_<major>, e.g. POSTGRES_16."
  }
}

variable "postgres_extensions" {
  description = "PostgreSQL extensions the application creates in the platform database: [\"vector\"] (pgvector) when a search/RAG project keeps its index there (decisions.model.rag.cloud_store = pgvector). Cloud SQL ships pgvector and needs no database flag for it: the module checks that postgres_version carries it, and the application runs CREATE EXTENSION IF NOT EXISTS as platform_admin (cloudsqlsuperuser), since the instance has private addresses only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for extension in var.postgres_extensions : contains(["vector"], extension)])
    error_message = "postgres_extensions may hold only \"vector\" (pgvector); other extensions are not wired."
  }

  # Cloud SQL lists pgvector ("vector") for POSTGRES_11 and later. Terraform >= 1.9 lets a
  # validation read another variable.
  validation {
    condition     = !contains(var.postgres_extensions, "vector") || try(tonumber(trimprefix(var.postgres_version, "POSTGRES_")) >= 11, false)
    error_message = "pgvector (postgres_extensions = [\"vector\"]) needs Cloud SQL POSTGRES_11 or later (postgres_version)."
  }
}

variable "redis_memory_gb" {
  description = "Memorystore size of the Feast online store."
  type        = number
  default     = 1
}

variable "monthly_budget_usd" {
  description = "Monthly budget (the decision engine's estimate for this environment); alerts at 80% and 100%."
  type        = number

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "The monthly budget must be above 0."
  }
}

variable "budget_notification_channels" {
  description = "Cloud Monitoring notification channel IDs for the budget alerts (billing admins get e-mails regardless)."
  type        = list(string)
  default     = []
}

variable "workload_identities" {
  description = "The Kubernetes ServiceAccount (namespace, name) of each workload that touches storage: triton (model repository), mlflow (artifacts), monitor (the drift job: inference log), airflow (the ETL worker: offline store) and, with the batch pattern, batch_worker (the inference log). Each gets its own Google service account, usable by exactly that account (Workload Identity)."
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
