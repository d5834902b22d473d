resource "aws_cloudwatch_log_group" "cluster" {
  # EKS writes control-plane logs here; created first so retention and encryption apply.
  name              = "/aws/eks/${local.name}/cluster"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_iam_role" "cluster" {
  name               = "${local.name}-eks-cluster"
  assume_role_policy = data.aws_iam_policy_document.assume["eks.amazonaws.com"].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

# The control plane envelope-encrypts Kubernetes secrets with the module's key.
resource "aws_iam_role_policy" "cluster_encryption" {
  name   = "secrets-encryption"
  role   = aws_iam_role.cluster.id
  policy = data.aws_iam_policy_document.cluster_encryption.json
}

data "aws_iam_policy_document" "cluster_encryption" {
  statement {
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"]
    resources = [aws_kms_key.this.arn]
  }
}

resource "aws_eks_cluster" "this" {
  name                      = local.name
  version                   = var.kubernetes_version
  role_arn                  = aws_iam_role.cluster.arn
  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  access_config {
    authentication_mode = "API"
  }

  vpc_config {
    subnet_ids              = aws_subnet.private[*].id
    endpoint_private_access = true
    # Private unless CIDRs are allowed explicitly (e.g. the CI runners' egress range).
    endpoint_public_access = length(var.cluster_endpoint_public_cidrs) > 0
    public_access_cidrs    = length(var.cluster_endpoint_public_cidrs) > 0 ? var.cluster_endpoint_public_cidrs : null
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.this.arn
    }
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy_attachment.cluster, aws_iam_role_policy.cluster_encryption, aws_cloudwatch_log_group.cluster]
}

# The manifests' NetworkPolicies (deploy/k8s: default-deny ingress, then only the intended peers) are
# enforced by the VPC CNI's network policy agent, which EKS leaves off unless the add-on asks for it.
resource "aws_eks_addon" "vpc_cni" {
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "vpc-cni"
  configuration_values        = jsonencode({ enableNetworkPolicy = "true" })
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "OVERWRITE"
  tags                        = var.tags
}

resource "aws_iam_role" "node" {
  name               = "${local.name}-eks-node"
  assume_role_policy = data.aws_iam_policy_document.assume["ec2.amazonaws.com"].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset(["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])

  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.key}"
}

# Launch templates: IMDSv2 only, encrypted root volumes, and the cost tags on what the node group
# launches (instances, volumes, network interfaces), which provider default_tags do not reach.
resource "aws_launch_template" "node" {
  for_each = {
    system = { disk_gb = 50 }
    gpu    = { disk_gb = 200 } # CUDA images and model weights
  }

  name_prefix            = "${local.name}-${each.key}-"
  update_default_version = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1 # pods use EKS Pod Identity / IRSA, not the node's IMDS
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = each.value.disk_gb
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = aws_kms_key.this.arn
      delete_on_termination = true
    }
  }

  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume", "network-interface"])
    content {
      resource_type = tag_specifications.key
      tags          = merge(var.tags, { Name = "${local.name}-${each.key}" })
    }
  }

  tags = var.tags
}

resource "aws_eks_node_group" "system" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "system"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = aws_subnet.private[*].id
  ami_type        = "AL2023_x86_64_STANDARD"
  instance_types  = [var.system_node_pool.instance_type]
  labels          = { workload = "system" }

  scaling_config {
    min_size     = var.system_node_pool.min_nodes
    max_size     = var.system_node_pool.max_nodes
    desired_size = var.system_node_pool.min_nodes
  }

  launch_template {
    id      = aws_launch_template.node["system"].id
    version = aws_launch_template.node["system"].latest_version
  }

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size] # the cluster autoscaler owns it
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy_attachment.node]
}

# The GPU node group: AL2023 NVIDIA AMI (drivers and container toolkit preinstalled; the NVIDIA
# device plugin runs in the cluster, see README), tainted so only GPU workloads land here.
resource "aws_eks_node_group" "gpu" {
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = "gpu"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = aws_subnet.private[*].id
  ami_type        = "AL2023_x86_64_NVIDIA"
  instance_types  = [var.gpu_node_pool.instance_type]
  labels          = var.gpu_node_pool.labels

  taint {
    key    = var.gpu_node_pool.taint.key
    value  = var.gpu_node_pool.taint.value
    effect = var.gpu_node_pool.taint.effect
  }

  scaling_config {
    min_size     = var.gpu_node_pool.min_nodes
    max_size     = var.gpu_node_pool.max_nodes
    desired_size = var.gpu_node_pool.min_nodes
  }

  launch_template {
    id      = aws_launch_template.node["gpu"].id
    version = aws_launch_template.node["gpu"].latest_version
  }

  lifecycle {
    ignore_changes = [scaling_config[0].desired_size]
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy_attachment.node]
}
