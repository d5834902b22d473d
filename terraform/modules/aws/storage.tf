# S3: MLflow artifacts, the Feast offline store, the Triton model repository (and edge bundles) and
# the inference log; private, versioned, encrypted with the key. Names: var.names (global, suffixed).
locals {
  buckets = {
    artifacts     = var.names.artifacts_bucket
    offline       = var.names.offline_bucket
    models        = var.names.models_bucket
    inference_log = var.names.inference_log_bucket
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logs go to the organization's central log bucket (set by the account baseline), not a per-project bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; artifacts are reproducible from training runs. Enable per compliance need.
  #checkov:skip=CKV2_AWS_62:No consumer of bucket events; MLflow and Feast poll.
  for_each = local.buckets

  bucket        = each.value
  force_destroy = !local.prod
  tags          = var.tags
}

# The companions iterate the same keys as the buckets (not `aws_s3_bucket.this`): checkov expands
# a for_each over a literal map only, and then checks each bucket with its own companions.
resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    id     = "tidy"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
  }
}

# ECR: the serving images (Triton + model repository sync).
resource "aws_ecr_repository" "this" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = !local.prod

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 50 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}
