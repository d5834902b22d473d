# Offline: the module uses no provider. Run: terraform init && terraform test
# The same cases (and many more) are compared with the Python engine by the generator's
# tests/test_terraform_sizing_parity.py.

variables {
  cloud       = "aws"
  params_b    = 0.001
  precision   = "fp32"
  peak_rps    = 10
  generation  = false
  environment = "prod"
}

run "small_model_fits_the_smallest_tier" {
  command = plan

  assert {
    condition     = output.tier == "t4" && output.instance_type == "g4dn.xlarge" && output.gpus_per_node == 1
    error_message = "A tiny tabular model at 10 req/s belongs on one T4 (g4dn.xlarge)."
  }

  assert {
    condition     = output.min_nodes == 1 && output.max_nodes == 1 && output.replicas == 1
    error_message = "Prod keeps one node and needs one replica at 10 req/s."
  }

  assert {
    condition     = output.provider_taint == { key = "nvidia.com/gpu", value = "true", effect = "NO_SCHEDULE" }
    error_message = "EKS taint is not nvidia.com/gpu=true:NO_SCHEDULE."
  }
}

run "load_sets_the_tier_and_node_count" {
  command = plan

  variables {
    peak_rps = 300
  }

  # 300 x 1.25 = 375 req/s needs the A100 40GB tier (500 req/s per GPU); 8 GPUs per p4d node.
  assert {
    condition     = output.tier == "a100_40gb" && output.instance_type == "p4d.24xlarge" && output.max_nodes == 1
    error_message = "375 req/s with headroom needs one p4d.24xlarge."
  }
}

run "dev_scales_to_zero_and_caps_at_one_node" {
  command = plan

  variables {
    environment = "dev"
    peak_rps    = 2000
  }

  assert {
    condition     = output.min_nodes == 0 && output.max_nodes == 1 && output.replicas == 1
    error_message = "Dev must scale 0..1 whatever the load."
  }
}

run "seventy_b_generation_spans_gpus_on_gcp" {
  command = plan

  variables {
    cloud      = "gcp"
    params_b   = 70
    precision  = "fp16"
    peak_rps   = 2
    generation = true
  }

  # 70 x 2 x 1.2 = 168 GB -> the 80 GB tier, 3 GPUs -> 4 per replica -> a2-ultragpu-4g.
  assert {
    condition     = output.tier == "a100_80gb" && output.gpus_per_replica == 4 && output.instance_type == "a2-ultragpu-4g"
    error_message = "A 70B FP16 model needs 4 x A100 80GB (a2-ultragpu-4g)."
  }

  assert {
    condition     = output.accelerator == "nvidia-a100-80gb" && output.gpus_per_node == 4 && output.fits
    error_message = "The GKE accelerator and count do not match the machine type."
  }

  assert {
    condition     = output.provider_taint == { key = "nvidia.com/gpu", value = "present", effect = "NO_SCHEDULE" }
    error_message = "GKE taint is not nvidia.com/gpu=present:NO_SCHEDULE."
  }
}

run "azure_taint_and_labels" {
  command = plan

  variables {
    cloud    = "azure"
    gpu_type = "a10g"
  }

  assert {
    condition     = output.instance_type == "Standard_NV36ads_A10_v5" && output.aks_taint == "sku=gpu:NoSchedule"
    error_message = "AKS A10 pool or taint is wrong."
  }

  assert {
    condition     = output.labels == { accelerator = "nvidia", workload = "gpu-inference" }
    error_message = "AKS GPU labels are wrong."
  }
}

run "rejects_unknown_cloud" {
  command = plan

  variables {
    cloud = "oci"
  }

  expect_failures = [var.cloud]
}

run "rejects_unknown_precision" {
  command = plan

  variables {
    precision = "fp8"
  }

  expect_failures = [var.precision]
}

run "rejects_zero_params" {
  command = plan

  variables {
    params_b = 0
  }

  expect_failures = [var.params_b]
}

run "rejects_negative_peak" {
  command = plan

  variables {
    peak_rps = -1
  }

  expect_failures = [var.peak_rps]
}

run "rejects_unknown_environment" {
  command = plan

  variables {
    environment = "staging"
  }

  expect_failures = [var.environment]
}

run "rejects_unknown_gpu_type" {
  command = plan

  variables {
    gpu_type = "h100"
  }

  expect_failures = [var.gpu_type]
}
