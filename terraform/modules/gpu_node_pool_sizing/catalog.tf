# The sizing tables. They mirror the decision engine's data (modules/platform_engine/data/sizing.yaml
# and the gpu / multi_gpu_shapes parts of prices.yaml); the generator's test
# tests/test_terraform_sizing_parity.py fails when the two drift apart.

locals {
  # Ordered smallest first; capacity_rps is per GPU at the top of the tier's range.
  tiers = [
    { id = "t4", label = "T4 (16GB)", gpu_memory_gb = 16, capacity_rps = 50 },
    { id = "a10g", label = "A10G (24GB)", gpu_memory_gb = 24, capacity_rps = 100 },
    { id = "a100_40gb", label = "A100 (40GB)", gpu_memory_gb = 40, capacity_rps = 500 },
    { id = "a100_80gb", label = "A100 (80GB) x 2+", gpu_memory_gb = 80, capacity_rps = 500 },
  ]

  bytes_per_param = { fp32 = 4.0, fp16 = 2.0, int8 = 1.0, int4 = 0.5 }
  memory_overhead = 1.2
  headroom        = 1.25

  # Generation: ~50 requests/minute for a 70B model on one GPU, scaled by 70B / size, capped.
  generation = { reference_params_b = 70, reference_requests_per_minute = 50, max_rps_per_gpu = 50 }

  environments = {
    dev  = { min_nodes = 0, max_nodes_cap = 1 }
    prod = { min_nodes = 1, max_nodes_cap = 100 }
  }

  # The smallest instance per cloud and tier; gpus = GPUs per node, hourly = whole instance (USD).
  instances = {
    aws = {
      t4        = { instance = "g4dn.xlarge", accelerator = "", gpus = 1, gpu_memory_gb = 16, hourly = 0.526 }
      a10g      = { instance = "g5.xlarge", accelerator = "", gpus = 1, gpu_memory_gb = 24, hourly = 1.006 }
      a100_40gb = { instance = "p4d.24xlarge", accelerator = "", gpus = 8, gpu_memory_gb = 40, hourly = 32.7726 }
      a100_80gb = { instance = "p4de.24xlarge", accelerator = "", gpus = 8, gpu_memory_gb = 80, hourly = 40.96575 }
    }
    gcp = {
      t4        = { instance = "n1-standard-4", accelerator = "nvidia-tesla-t4", gpus = 1, gpu_memory_gb = 16, hourly = 0.54 }
      a10g      = { instance = "g2-standard-4", accelerator = "nvidia-l4", gpus = 1, gpu_memory_gb = 24, hourly = 0.7068 }
      a100_40gb = { instance = "a2-highgpu-1g", accelerator = "nvidia-tesla-a100", gpus = 1, gpu_memory_gb = 40, hourly = 3.673 }
      a100_80gb = { instance = "a2-ultragpu-2g", accelerator = "nvidia-a100-80gb", gpus = 2, gpu_memory_gb = 80, hourly = 6.358 }
    }
    azure = {
      t4        = { instance = "Standard_NC4as_T4_v3", accelerator = "", gpus = 1, gpu_memory_gb = 16, hourly = 0.526 }
      a10g      = { instance = "Standard_NV36ads_A10_v5", accelerator = "", gpus = 1, gpu_memory_gb = 24, hourly = 3.2 }
      a100_40gb = { instance = "Standard_NC24ads_A100_v4", accelerator = "", gpus = 1, gpu_memory_gb = 80, hourly = 3.673 }
      a100_80gb = { instance = "Standard_NC48ads_A100_v4", accelerator = "", gpus = 2, gpu_memory_gb = 80, hourly = 7.346 }
    }
  }

  # Larger shapes of the same GPU (GPU count => instance), for replicas that span several GPUs.
  multi_gpu_shapes = {
    aws = {
      t4   = { "4" = "g4dn.12xlarge", "8" = "g4dn.metal" }
      a10g = { "4" = "g5.12xlarge", "8" = "g5.48xlarge" }
    }
    gcp = {
      t4        = { "2" = "n1-standard-8", "4" = "n1-standard-16" }
      a10g      = { "2" = "g2-standard-24", "4" = "g2-standard-48", "8" = "g2-standard-96" }
      a100_40gb = { "2" = "a2-highgpu-2g", "4" = "a2-highgpu-4g", "8" = "a2-highgpu-8g" }
      a100_80gb = { "4" = "a2-ultragpu-4g", "8" = "a2-ultragpu-8g" }
    }
    azure = {
      t4        = { "4" = "Standard_NC64as_T4_v3" }
      a10g      = { "2" = "Standard_NV72ads_A10_v5" }
      a100_40gb = { "2" = "Standard_NC48ads_A100_v4", "4" = "Standard_NC96ads_A100_v4", "8" = "Standard_ND96amsr_A100_v4" }
      a100_80gb = { "4" = "Standard_NC96ads_A100_v4", "8" = "Standard_ND96amsr_A100_v4" }
    }
  }

  # Taint and labels per cloud (platform-facts.md 1.2); the serving layer's Triton Deployment
  # tolerates and selects exactly these.
  node_pools = {
    aws = {
      taint  = { key = "nvidia.com/gpu", value = "true", effect = "NoSchedule" }
      labels = { "nvidia.com/gpu.present" = "true", workload = "gpu-inference" }
    }
    gcp = {
      taint  = { key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }
      labels = { workload = "gpu-inference" }
    }
    azure = {
      taint  = { key = "sku", value = "gpu", effect = "NoSchedule" }
      labels = { accelerator = "nvidia", workload = "gpu-inference" }
    }
  }
}
