output "tier" {
  description = "Sizing tier: t4, a10g, a100_40gb or a100_80gb."
  value       = local.tier.id
}

output "gpu_label" {
  description = "The tier's GPU, for people."
  value       = local.tier.label
}

output "instance_type" {
  description = "Instance type (AWS), machine type (GCP) or VM size (Azure) of a GPU node."
  value       = local.instance_type
}

output "accelerator" {
  description = "GCP accelerator type for guest_accelerator (empty on AWS and Azure)."
  value       = local.cloud_gpu.accelerator
}

output "gpus_per_node" {
  description = "GPUs on one node."
  value       = local.gpus_per_node
}

output "gpu_memory_gb" {
  description = "Memory of one GPU."
  value       = local.cloud_gpu.gpu_memory_gb
}

output "gpus_per_replica" {
  description = "GPUs one model replica spans."
  value       = local.gpus_per_replica
}

output "replicas" {
  description = "Model replicas at peak (prod); 1 in dev."
  value       = var.environment == "prod" ? local.replicas : 1
}

output "min_nodes" {
  description = "Autoscaling minimum (0 in dev: scale to zero)."
  value       = local.environment.min_nodes
}

output "max_nodes" {
  description = "Autoscaling maximum: the nodes the peak needs, capped per environment."
  value       = local.max_nodes
}

output "hourly_per_node" {
  description = "On-demand USD per node-hour (price table of the decision engine)."
  value       = local.hourly_per_node
}

output "capacity_rps_per_replica" {
  description = "Requests/s one replica serves."
  value       = local.capacity_rps_per_replica
}

output "model_memory_gb" {
  description = "Serving memory of the model at the precision, with overhead."
  value       = local.memory_gb
}

output "fits" {
  description = "Whether a replica's GPUs hold the model."
  value       = local.fits
}

output "taint" {
  description = "The GPU taint in Kubernetes spelling: key, value, effect (NoSchedule)."
  value       = local.node_pool.taint
}

output "provider_taint" {
  description = "The GPU taint in the EKS / GKE provider spelling (effect NO_SCHEDULE)."
  value       = merge(local.node_pool.taint, { effect = local.provider_taint_effect })
}

output "aks_taint" {
  description = "The GPU taint as AKS node_taints takes it: key=value:Effect."
  value       = "${local.node_pool.taint.key}=${local.node_pool.taint.value}:${local.node_pool.taint.effect}"
}

output "labels" {
  description = "Kubernetes node labels of the GPU pool (the serving layer's nodeSelector)."
  value       = local.node_pool.labels
}

output "catalog" {
  description = "The sizing tables this module carries (compared with the decision engine's by the generator's tests)."
  value = {
    tiers            = local.tiers
    bytes_per_param  = local.bytes_per_param
    memory_overhead  = local.memory_overhead
    headroom         = local.headroom
    generation       = local.generation
    environments     = local.environments
    instances        = local.instances
    multi_gpu_shapes = local.multi_gpu_shapes
    node_pool        = local.node_pools
  }
}
