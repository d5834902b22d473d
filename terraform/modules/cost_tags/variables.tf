locals {
  # GCP label rules (the strictest of the three clouds): 1-63 characters, lowercase letters, digits,
  # `_` and `-`; keys start with a letter. AWS and Azure accept these as tags unchanged.
  label_value_pattern = "^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"
}

variable "project" {
  description = "Project slug, e.g. churn-prediction."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.project)) && !endswith(var.project, "-")
    error_message = "The project must be a slug: 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-' (e.g. churn-prediction)."
  }
}

variable "environment" {
  description = "Environment name: dev, staging or prod."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "The environment must be one of dev, staging, prod."
  }
}

variable "owner" {
  description = "Owning team, e.g. ml-team."
  type        = string

  validation {
    condition     = can(regex(local.label_value_pattern, var.owner))
    error_message = "The owner must be 1-63 lowercase letters, digits, '_' or '-', starting and ending with a letter or digit (e.g. ml-team)."
  }
}

variable "cost_center" {
  description = "Cost center the spend is charged to, e.g. cc-1234."
  type        = string

  validation {
    condition     = can(regex(local.label_value_pattern, var.cost_center))
    error_message = "The cost_center must be 1-63 lowercase letters, digits, '_' or '-', starting and ending with a letter or digit (e.g. cc-1234)."
  }
}

variable "model" {
  description = "The served model, free text (e.g. \"Llama-2 7B\"); normalized to a label value."
  type        = string
  default     = ""

  validation {
    condition     = length(var.model) <= 256
    error_message = "The model must be at most 256 characters."
  }
}

variable "managed_by" {
  description = "What manages the resources."
  type        = string
  default     = "terraform"

  validation {
    condition     = can(regex(local.label_value_pattern, var.managed_by))
    error_message = "The managed_by value must be a label value (lowercase letters, digits, '_' or '-')."
  }
}

variable "extra_tags" {
  description = "More tags (keys are normalized like the values); the cost tags win on a clash."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.extra_tags) : can(regex("^[A-Za-z][A-Za-z0-9_ -]{0,62}$", key))])
    error_message = "Extra tag keys must start with a letter and hold at most 63 letters, digits, '_', '-' or spaces."
  }

  validation {
    condition     = length(var.extra_tags) <= 50
    error_message = "At most 50 extra tags (AWS allows 50 tags per resource, GCP 64 labels)."
  }
}
