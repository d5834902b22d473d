variable "cloud" {
  description = "Target cloud: aws, gcp or azure."
  type        = string

  validation {
    condition     = contains(["aws", "gcp", "azure"], var.cloud)
    error_message = "The cloud must be one of aws, gcp, azure."
  }
}

variable "params_b" {
  description = "Model size in billions of parameters."
  type        = number

  validation {
    condition     = var.params_b > 0 && var.params_b <= 2000
    error_message = "params_b must be above 0 and at most 2000 (billions of parameters)."
  }
}

variable "precision" {
  description = "Serving precision: fp32, fp16, int8 or int4."
  type        = string

  validation {
    condition     = contains(["fp32", "fp16", "int8", "int4"], var.precision)
    error_message = "The precision must be one of fp32, fp16, int8, int4."
  }
}

variable "peak_rps" {
  description = "Peak requests per second the pool must serve."
  type        = number

  validation {
    condition     = var.peak_rps >= 0
    error_message = "peak_rps must not be negative."
  }
}

variable "generation" {
  description = "True for generative models (throughput scales with model size, not the tier)."
  type        = bool
  default     = false
}

variable "environment" {
  description = "dev (scales to zero, at most one node) or prod."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "The environment must be dev or prod."
  }
}

variable "gpu_type" {
  description = "auto (size from memory and load) or a tier: t4, a10g, a100_40gb, a100_80gb."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "t4", "a10g", "a100_40gb", "a100_80gb"], var.gpu_type)
    error_message = "The gpu_type must be one of auto, t4, a10g, a100_40gb, a100_80gb."
  }
}
