# The platform on AWS: VPC, EKS with a CPU system node group and the sized GPU node group, S3 for
# MLflow artifacts, the Feast offline store, the Triton model repository and the inference log,
# RDS PostgreSQL, ElastiCache Redis, ECR, and a budget. Every name comes from var.names (the
# decision engine's, platform.yaml decisions.names); the module computes none.
# Cost tags: the caller sets them as provider default_tags; this module also sets them on every
# resource (a reusable module must not depend on its caller's provider block) and on the GPU
# launch template's tag_specifications, which default_tags do not reach (instances, volumes, ENIs).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first availability_zone_count zones are used (slice below), so a new zone does not move subnets.
  state = "available"
}

locals {
  name       = var.names.prefix
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = slice(data.aws_availability_zones.available.names, 0, var.availability_zone_count)
  prod       = var.environment == "prod"
}

# One customer-managed key encrypts secrets, buckets, databases, logs, images and alerts.
resource "aws_kms_key" "this" {
  description             = "${local.name}: platform data"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; access is limited to this account and named AWS services.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself; access is limited to this account and named AWS services.
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource is the key itself; access is limited to this account and named AWS services.
  statement {
    sid       = "AccountAdmin"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Node groups launch encrypted volumes through the Auto Scaling service-linked role.
  statement {
    sid       = "AutoScalingVolumes"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"]
    }
  }

  statement {
    sid       = "AwsServices"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com", "budgets.amazonaws.com", "sns.amazonaws.com"]
    }
  }
}
