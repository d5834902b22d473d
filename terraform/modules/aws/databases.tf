# PostgreSQL (MLflow backend, Airflow metadata, Feast registry) and Redis (Feast online store),
# reachable only from the cluster. Passwords live in Secrets Manager; outputs carry their ARNs only.

resource "aws_security_group" "data" {
  name        = "${local.name}-data"
  description = "PostgreSQL and Redis, reachable from the EKS cluster only"
  vpc_id      = aws_vpc.this.id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "data" {
  for_each = { postgres = 5432, redis = 6379 }

  security_group_id            = aws_security_group.data.id
  description                  = "${each.key} from the EKS cluster"
  referenced_security_group_id = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
}

resource "aws_db_subnet_group" "this" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
  tags       = var.tags
}

# TLS only; log DDL and slow statements (over 1 s) for audits and query tuning.
resource "aws_db_parameter_group" "postgres" {
  name_prefix = "${local.name}-"
  family      = "postgres${split(".", var.postgres.engine_version)[0]}"

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "rds.force_ssl" # TLS only
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }

  tags = var.tags
}

# Extensions (var.postgres_extensions, e.g. pgvector for a RAG index): RDS ships them with no
# parameter to set; the application creates them in the platform database (CREATE EXTENSION IF NOT
# EXISTS vector, as platform_admin, an rds_superuser), because only workloads inside the VPC reach
# the instance. The variable's validation checks that engine_version carries the extension.
resource "aws_db_instance" "postgres" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs its own IAM role and costs extra; Performance Insights covers query load.
  #checkov:skip=CKV_AWS_157:Multi-AZ is on in prod (local.prod); dev runs single-AZ to halve the database cost.
  #checkov:skip=CKV_AWS_293:Deletion protection is on in prod (local.prod); dev must be destroyable by `make destroy`.
  identifier                          = local.name
  engine                              = "postgres"
  engine_version                      = var.postgres.engine_version
  instance_class                      = var.postgres.instance_class
  allocated_storage                   = var.postgres.allocated_storage
  storage_type                        = "gp3"
  storage_encrypted                   = true
  kms_key_id                          = aws_kms_key.this.arn
  db_name                             = "platform"
  username                            = "platform_admin"
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = aws_kms_key.this.arn
  iam_database_authentication_enabled = true
  parameter_group_name                = aws_db_parameter_group.postgres.name
  db_subnet_group_name                = aws_db_subnet_group.this.name
  vpc_security_group_ids              = [aws_security_group.data.id]
  publicly_accessible                 = false
  multi_az                            = local.prod
  deletion_protection                 = local.prod
  skip_final_snapshot                 = !local.prod
  final_snapshot_identifier           = local.prod ? "${local.name}-final" : null
  backup_retention_period             = local.prod ? 14 : 3
  copy_tags_to_snapshot               = true
  auto_minor_version_upgrade          = true
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = aws_kms_key.this.arn
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  apply_immediately                   = !local.prod
  tags                                = var.tags
}

resource "aws_elasticache_subnet_group" "this" {
  name       = local.name
  subnet_ids = aws_subnet.private[*].id
  tags       = var.tags
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "redis" {
  #checkov:skip=CKV2_AWS_57:ElastiCache AUTH tokens cannot be rotated by a Secrets Manager rotation lambda without downtime; rotate with `terraform apply -replace=random_password.redis`.
  name       = "${local.name}/redis-auth"
  kms_key_id = aws_kms_key.this.arn
  tags       = var.tags
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id     = aws_secretsmanager_secret.redis.id
  secret_string = random_password.redis.result
}

resource "aws_elasticache_replication_group" "redis" {
  #checkov:skip=CKV2_AWS_50:Automatic failover across AZs is on in prod (local.prod); dev runs one node to halve the cost.
  replication_group_id       = local.name
  description                = "${local.name}: Feast online store"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = local.prod ? 2 : 1
  automatic_failover_enabled = local.prod
  multi_az_enabled           = local.prod
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.data.id]
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  auth_token                 = random_password.redis.result
  snapshot_retention_limit   = local.prod ? 7 : 1
  auto_minor_version_upgrade = true
  tags                       = var.tags
}
