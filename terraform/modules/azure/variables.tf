variable "name" {
  description = "Name prefix of every resource, e.g. churn-prediction-dev."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,39}$", var.name))
    error_message = "The name must be 2-40 lowercase letters, digits or '-', starting with a letter."
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
