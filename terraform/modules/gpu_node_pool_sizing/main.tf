# GPU node pool sizing: the decision engine's `size_node_pool`, step for step
# (modules/platform_engine/sizing.py), so Terraform and platform.yaml agree on the pool.

locals {
  tier_ids = [for tier in local.tiers : tier.id]

  memory_gb = var.params_b * local.bytes_per_param[var.precision] * local.memory_overhead

  # Smallest tier whose single GPU holds the model (the largest tier otherwise).
  tier_by_memory = concat(
    [for index, tier in local.tiers : index if local.memory_gb <= tier.gpu_memory_gb],
    [length(local.tiers) - 1],
  )[0]

  # Smallest tier whose per-GPU capacity covers the peak with headroom (the largest otherwise).
  tier_by_load = concat(
    [for index, tier in local.tiers : index if var.peak_rps * local.headroom <= tier.capacity_rps],
    [length(local.tiers) - 1],
  )[0]

  tier_index = (
    var.gpu_type != "auto" ? index(local.tier_ids, var.gpu_type) :
    var.generation ? local.tier_by_memory :
    max(local.tier_by_memory, local.tier_by_load)
  )
  tier      = local.tiers[local.tier_index]
  cloud_gpu = local.instances[var.cloud][local.tier.id]

  # GPUs one replica spans: enough memory, rounded up to a power of two (tensor parallel).
  gpus_needed      = max(1, ceil(local.memory_gb / local.cloud_gpu.gpu_memory_gb))
  gpus_per_replica = [for count in [1, 2, 4, 8, 16, 32, 64, 128, 256] : count if count >= local.gpus_needed][0]

  # The smallest shape with at least that many GPUs; the base shape when none is large enough.
  larger_shapes = [
    for count in sort([for key in keys(lookup(local.multi_gpu_shapes[var.cloud], local.tier.id, {})) : format("%05d", tonumber(key))]) :
    tonumber(count) if tonumber(count) >= local.gpus_per_replica
  ]
  use_larger_shape = local.gpus_per_replica > local.cloud_gpu.gpus && length(local.larger_shapes) > 0
  gpus_per_node    = local.use_larger_shape ? local.larger_shapes[0] : local.cloud_gpu.gpus
  instance_type = (
    local.use_larger_shape
    ? local.multi_gpu_shapes[var.cloud][local.tier.id][tostring(local.larger_shapes[0])]
    : local.cloud_gpu.instance
  )
  hourly_per_node = (
    local.use_larger_shape
    ? local.cloud_gpu.hourly / local.cloud_gpu.gpus * local.gpus_per_node
    : local.cloud_gpu.hourly
  )

  fits = (
    local.gpus_per_replica <= local.gpus_per_node &&
    local.memory_gb <= local.gpus_per_replica * local.cloud_gpu.gpu_memory_gb
  )

  capacity_rps_per_replica = (
    var.generation
    ? min(local.generation.max_rps_per_gpu, local.generation.reference_requests_per_minute / 60 * local.generation.reference_params_b / var.params_b)
    : local.tier.capacity_rps
  )
  replicas          = max(1, ceil(var.peak_rps * local.headroom / local.capacity_rps_per_replica))
  replicas_per_node = max(1, floor(local.gpus_per_node / local.gpus_per_replica))
  nodes_needed      = ceil(local.replicas / local.replicas_per_node)
  environment       = local.environments[var.environment]
  max_nodes         = max(1, min(local.nodes_needed, local.environment.max_nodes_cap))

  node_pool = local.node_pools[var.cloud]
  # Each provider spells the taint its own way.
  provider_taint_effect = {
    NoSchedule       = "NO_SCHEDULE"
    PreferNoSchedule = "PREFER_NO_SCHEDULE"
    NoExecute        = "NO_EXECUTE"
  }[local.node_pool.taint.effect]
}
