variable "names" {
  description = "Every resource name, decided by the decision engine (platform.yaml decisions.names): prefix (of every resource, e.g. churn-prediction-dev), the storage account and its containers, the registry, and the PostgreSQL and Redis servers (global DNS names, suffixed)."
  type = object({
    prefix                  = string
    storage_account         = string
    artifacts_container     = string
    offline_container       = string
    models_container        = string
    inference_log_container = string
    registry                = string
    postgres_server         = string
    redis_cache             = string
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.names.prefix)) && !strcontains(var.names.prefix, "--")
    error_message = "names.prefix must be 2-40 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit."
  }

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.names.storage_account))
    error_message = "names.storage_account must be 3-24 lowercase letters and digits (Azure storage account names are global)."
  }

  validation {
    condition     = can(regex("^[a-z0-9]{5,50}$", var.names.registry))
    error_message = "names.registry must be 5-50 lowercase letters and digits (ACR names are global)."
  }

  validation {
    condition = alltrue([
      for container in [var.names.artifacts_container, var.names.offline_container, var.names.models_container, var.names.inference_log_container] :
      can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", container)) && !strcontains(container, "--")
    ])
    error_message = "Blob container names (names.*_container) must be 3-63 lowercase letters, digits or single '-', starting and ending with a letter or digit."
  }

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.names.postgres_server)) && !strcontains(var.names.postgres_server, "--")
    error_message = "names.postgres_server must be 3-63 lowercase letters, digits or single '-', starting and ending with a letter or digit (a global DNS name)."
  }

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.names.redis_cache)) && !strcontains(var.names.redis_cache, "--")
    error_message = "names.redis_cache must be 1-63 lowercase letters, digits or single '-', starting and ending with a letter or digit (a global DNS name)."
  }
}

variable "environment" {
  description = "dev or prod: prod gets zone-redundant databases, the paid AKS tier and longer backups."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "The environment must be dev or prod."
  }
}

variable "location" {
  description = "Azure region, e.g. eastus."
  type        = string
}

variable "tags" {
  description = "Cost tags (module cost_tags, output tags): azurerm has no provider default tags, so every resource merges them."
  type        = map(string)

  validation {
    condition     = alltrue([for key in ["project", "environment", "owner", "cost-center", "managed-by", "model"] : contains(keys(var.tags), key)])
    error_message = "The tags must hold every cost tag: project, environment, owner, cost-center, managed-by, model."
  }
}

variable "vnet_cidr" {
  description = "Address space of the virtual network."
  type        = string
  default     = "10.60.0.0/16"
}

variable "api_server_authorized_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API; empty makes the cluster private."
  type        = list(string)
  default     = []
}

variable "kubernetes_version" {
  description = "AKS Kubernetes version (null: the region's default)."
  type        = string
  default     = null
}

variable "system_node_pool" {
  description = "CPU system node pool for system pods, Airflow, MLflow and Feast."
  type = object({
    vm_size   = string
    min_nodes = number
    max_nodes = number
  })
  default = { vm_size = "Standard_D4ds_v5", min_nodes = 2, max_nodes = 4 } # local disk for the ephemeral OS disk
}

variable "gpu_node_pool" {
  description = "GPU node pool as the decision engine sized it (platform.yaml decisions.gpu; VM size, min/max nodes, aks_taint, labels)."
  type = object({
    vm_size   = string
    min_nodes = number
    max_nodes = number
    taint     = string # key=value:Effect, e.g. sku=gpu:NoSchedule
    labels    = map(string)
  })

  validation {
    condition     = can(regex("^[^=]+=[^:]*:(NoSchedule|PreferNoSchedule|NoExecute)$", var.gpu_node_pool.taint))
    error_message = "The GPU taint must read key=value:Effect, e.g. sku=gpu:NoSchedule."
  }

  validation {
    condition     = var.gpu_node_pool.min_nodes >= 0 && var.gpu_node_pool.max_nodes >= max(1, var.gpu_node_pool.min_nodes)
    error_message = "The GPU pool needs 0 <= min_nodes <= max_nodes and max_nodes >= 1."
  }
}

variable "postgres_sku" {
  description = "PostgreSQL flexible server SKU (null: B_Standard_B2s in dev, GP_Standard_D2ds_v5 in prod)."
  type        = string
  default     = null
}

variable "postgres_extensions" {
  description = "PostgreSQL extensions the application creates in the platform database: [\"vector\"] (pgvector) when a search/RAG project keeps its index there (decisions.model.rag.cloud_store = pgvector). A flexible server refuses CREATE EXTENSION for any extension its azure.extensions parameter does not allow-list, so the module sets that parameter; the application then runs CREATE EXTENSION IF NOT EXISTS (as an azure_pg_admin member), since the server is reachable from the VNet only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for extension in var.postgres_extensions : contains(["vector"], extension)])
    error_message = "postgres_extensions may hold only \"vector\" (pgvector); other extensions are not wired."
  }
}

variable "postgres_admin" {
  description = "Entra ID principal that administers PostgreSQL (password login is off). Null: the identity running Terraform."
  type = object({
    object_id      = string
    principal_name = string
    principal_type = string # User, Group or ServicePrincipal
  })
  default = null
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
  description = "Addresses that get the budget alerts (the resource group's Owners get them as well)."
  type        = list(string)
  default     = []
}

variable "workload_identities" {
  description = "The Kubernetes ServiceAccount (namespace, name) of each workload that touches storage: triton (model repository), mlflow (artifacts), monitor (the drift job: inference log), airflow (the ETL worker: offline store) and, with the batch pattern, batch_worker (the inference log). Each gets its own user-assigned identity, federated with exactly that account."
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
  description = "The edge serving pattern: the drift job also reads the devices' logs under edge/logs/ of the models container."
  type        = bool
  default     = false
}
