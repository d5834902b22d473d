# Plans the module against mocked providers (Terraform >= 1.7). mock_provider still needs the
# provider's schema, so run it where providers can be downloaded: terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { region = "us-east-1" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
}

mock_provider "random" {}

variables {
  names = {
    prefix               = "churn-prediction-dev"
    artifacts_bucket     = "churn-prediction-dev-mlflow-artifacts-f3e9e0"
    offline_bucket       = "churn-prediction-dev-feast-offline-f3e9e0"
    models_bucket        = "churn-prediction-dev-models-f3e9e0"
    inference_log_bucket = "churn-prediction-dev-inference-log-f3e9e0"
  }
  environment = "dev"
  tags = {
    project    = "churn-prediction", environment = "dev", owner = "ml-team", "cost-center" = "cc-1234",
    managed-by = "terraform", model = "lightgbm"
  }
  gpu_node_pool = {
    instance_type = "g4dn.xlarge"
    min_nodes     = 0
    max_nodes     = 1
    taint         = { key = "nvidia.com/gpu", value = "true", effect = "NO_SCHEDULE" }
    labels        = { "nvidia.com/gpu.present" = "true", workload = "gpu-inference" }
  }
  monthly_budget_usd = 252.08
  workload_identities = {
    triton  = { namespace = "churn-prediction-dev", service_account = "triton" }
    mlflow  = { namespace = "mlflow", service_account = "mlflow" }
    monitor = { namespace = "churn-prediction-monitoring", service_account = "churn-prediction-monitor" }
    airflow = { namespace = "airflow", service_account = "airflow-worker" }
  }
}

run "gpu_node_group_follows_the_sizing" {
  command = plan

  assert {
    condition     = aws_eks_node_group.gpu.instance_types == tolist(["g4dn.xlarge"]) && aws_eks_node_group.gpu.ami_type == "AL2023_x86_64_NVIDIA"
    error_message = "GPU node group instance type or AMI is wrong."
  }

  assert {
    condition     = aws_eks_node_group.gpu.scaling_config[0].min_size == 0 && aws_eks_node_group.gpu.scaling_config[0].max_size == 1
    error_message = "GPU node group autoscaling range is not the sizing's."
  }

  assert {
    condition     = one(aws_eks_node_group.gpu.taint).key == "nvidia.com/gpu" && one(aws_eks_node_group.gpu.taint).effect == "NO_SCHEDULE"
    error_message = "GPU node group taint is wrong."
  }
}

run "cost_tags_reach_instances_and_volumes" {
  command = plan

  assert {
    condition = alltrue([
      for spec in aws_launch_template.node["gpu"].tag_specifications : spec.tags["cost-center"] == "cc-1234"
    ])
    error_message = "The GPU launch template does not tag what it launches."
  }
}

run "budget_alerts_at_80_and_100" {
  command = plan

  assert {
    condition     = aws_budgets_budget.monthly.limit_amount == "252.08" && length(aws_budgets_budget.monthly.notification) == 2
    error_message = "Budget amount or alerts are wrong."
  }
}

run "rejects_missing_cost_tags" {
  command = plan

  variables {
    tags = { project = "churn-prediction" }
  }

  expect_failures = [var.tags]
}

run "buckets_are_named_by_the_engine" {
  command = plan

  assert {
    condition = {
      for key, bucket in aws_s3_bucket.this : key => bucket.bucket
      } == {
      artifacts     = "churn-prediction-dev-mlflow-artifacts-f3e9e0"
      offline       = "churn-prediction-dev-feast-offline-f3e9e0"
      models        = "churn-prediction-dev-models-f3e9e0"
      inference_log = "churn-prediction-dev-inference-log-f3e9e0"
    }
    error_message = "The buckets are not the ones var.names gives (the module must not compute names)."
  }

  assert {
    condition     = length(aws_s3_bucket_public_access_block.this) == 4 && length(aws_s3_bucket_server_side_encryption_configuration.this) == 4 && length(aws_s3_bucket_versioning.this) == 4
    error_message = "Every bucket (models and inference log included) must be private, encrypted and versioned."
  }

  assert {
    condition     = aws_eks_cluster.this.name == "churn-prediction-dev" && aws_elasticache_replication_group.redis.replication_group_id == "churn-prediction-dev"
    error_message = "Resources are not named with names.prefix."
  }
}

run "rejects_a_bucket_name_s3_refuses" {
  command = plan

  variables {
    names = {
      prefix               = "churn-prediction-dev"
      artifacts_bucket     = "churn-prediction-dev-mlflow-artifacts-f3e9e0"
      offline_bucket       = "Churn_Prediction-offline"
      models_bucket        = "churn-prediction-dev-models-f3e9e0"
      inference_log_bucket = "churn-prediction-dev-inference-log-f3e9e0-and-far-too-long-for-an-s3-bucket-name"
    }
  }

  expect_failures = [var.names]
}

run "rejects_a_prefix_over_38_characters" {
  command = plan

  variables {
    names = {
      prefix               = "a-very-long-project-name-for-fraud-prod"
      artifacts_bucket     = "churn-prediction-dev-mlflow-artifacts-f3e9e0"
      offline_bucket       = "churn-prediction-dev-feast-offline-f3e9e0"
      models_bucket        = "churn-prediction-dev-models-f3e9e0"
      inference_log_bucket = "churn-prediction-dev-inference-log-f3e9e0"
    }
  }

  expect_failures = [var.names]
}

run "each_workload_gets_its_own_irsa_role" {
  command = plan

  assert {
    condition     = { for key, role in aws_iam_role.workload : key => role.name } == { triton = "churn-prediction-dev-triton", mlflow = "churn-prediction-dev-mlflow", monitor = "churn-prediction-dev-monitor", airflow = "churn-prediction-dev-airflow" }
    error_message = "Every workload that touches storage needs its own IAM role, named after names.prefix."
  }

  assert {
    condition     = length(aws_iam_role_policy.workload_storage) == 4 && contains(aws_iam_openid_connect_provider.cluster.client_id_list, "sts.amazonaws.com")
    error_message = "The roles need their storage policies and the cluster its OIDC provider (audience sts.amazonaws.com)."
  }
}

run "no_extension_unless_asked" {
  command = plan

  assert {
    condition     = length(output.postgres_extensions) == 0
    error_message = "A project that keeps no vectors in PostgreSQL must not ask for extensions."
  }
}

run "pgvector_on_an_engine_that_ships_it" {
  command = plan

  variables {
    postgres_extensions = ["vector"]
  }

  assert {
    condition     = output.postgres_extensions == tolist(["vector"]) && aws_db_instance.postgres.engine_version == "16"
    error_message = "The application must be told to create pgvector on the default engine (16)."
  }
}

run "rejects_pgvector_on_an_engine_without_hnsw" {
  command = plan

  variables {
    postgres_extensions = ["vector"]
    postgres            = { instance_class = "db.t4g.medium", allocated_storage = 50, engine_version = "15.3" }
  }

  expect_failures = [var.postgres_extensions]
}

run "rejects_an_extension_that_is_not_wired" {
  command = plan

  variables {
    postgres_extensions = ["postgis"]
  }

  expect_failures = [var.postgres_extensions]
}
