resource "google_service_account" "nodes" {
  account_id   = "${local.name}-nodes"
  project      = var.project_id
  display_name = "${local.name} GKE nodes (least privilege)"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
  ])

  project = var.project_id
  role    = each.key
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "this" {
  #checkov:skip=CKV_GCP_66:Binary Authorization needs an attestor pipeline per organization; enable it with your signing setup.
  #checkov:skip=CKV_GCP_12:Dataplane V2 (ADVANCED_DATAPATH) enforces network policy; the legacy network_policy block conflicts with it.
  #checkov:skip=CKV_GCP_21:resource_labels = var.labels, which the module validates to hold every cost tag (the policy CKV_MLOPS_1 checks it).
  #checkov:skip=CKV_GCP_65:Google Groups for RBAC needs a Workspace domain (gke-security-groups@<domain>); set it per organization.
  name     = local.name
  project  = var.project_id
  location = var.region

  # Node pools are managed below; the default pool is removed right after creation.
  remove_default_node_pool = true
  initial_node_count       = 1

  network         = google_compute_network.this.id
  subnetwork      = google_compute_subnetwork.nodes.id
  networking_mode = "VPC_NATIVE"

  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = length(var.master_authorized_cidrs) == 0
    master_ipv4_cidr_block  = var.master_cidr
  }

  master_authorized_networks_config {
    dynamic "cidr_blocks" {
      for_each = var.master_authorized_cidrs
      content {
        cidr_block   = cidr_blocks.value
        display_name = "authorized-${cidr_blocks.key}"
      }
    }
  }

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  release_channel {
    channel = "REGULAR"
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  database_encryption {
    state    = "ENCRYPTED"
    key_name = google_kms_crypto_key.this.id
  }

  # Cluster name and namespace appear in the billing export: cost per workload.
  cost_management_config {
    enabled = true
  }

  datapath_provider           = "ADVANCED_DATAPATH" # Dataplane V2: network policy enforcement
  enable_intranode_visibility = true
  enable_shielded_nodes       = true
  enable_legacy_abac          = false
  deletion_protection         = local.prod

  node_config {
    # Only for the short-lived default pool; hardened like the real pools.
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  resource_labels = var.labels

  depends_on = [google_kms_crypto_key_iam_member.users]
}

locals {
  node_pools = {
    system = {
      machine_type = var.system_node_pool.machine_type
      min_nodes    = var.system_node_pool.min_nodes
      max_nodes    = var.system_node_pool.max_nodes
      disk_gb      = 100
      labels       = { workload = "system" }
      accelerator  = null
      taint        = null
      zones        = null
    }
    gpu = {
      machine_type = var.gpu_node_pool.machine_type
      min_nodes    = var.gpu_node_pool.min_nodes
      max_nodes    = var.gpu_node_pool.max_nodes
      disk_gb      = 200 # CUDA images and model weights
      labels       = var.gpu_node_pool.labels
      accelerator  = { type = var.gpu_node_pool.accelerator_type, count = var.gpu_node_pool.accelerator_count }
      taint        = var.gpu_node_pool.taint
      # Zones that offer the GPU (GKE doc: restrict node_locations); empty = every zone of the region.
      zones = length(var.gpu_node_pool.zones) > 0 ? var.gpu_node_pool.zones : null
    }
  }
}

resource "google_container_node_pool" "this" {
  for_each = local.node_pools

  name           = each.key
  project        = var.project_id
  location       = var.region
  cluster        = google_container_cluster.this.name
  node_locations = each.value.zones

  # Totals across the region's zones (min_count / max_count would be per zone).
  autoscaling {
    total_min_node_count = each.value.min_nodes
    total_max_node_count = each.value.max_nodes
    location_policy      = "ANY"
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = each.value.machine_type
    image_type      = "COS_CONTAINERD"
    disk_size_gb    = each.value.disk_gb
    disk_type       = "pd-balanced"
    service_account = google_service_account.nodes.email
    # cloud-platform includes devstorage.read_only, which GPU driver installation needs.
    oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"]

    labels          = each.value.labels # Kubernetes node labels (the serving layer's nodeSelector)
    resource_labels = var.labels        # GCP labels on the VMs: the billing export groups by these

    dynamic "guest_accelerator" {
      for_each = each.value.accelerator == null ? [] : [each.value.accelerator]
      content {
        type  = guest_accelerator.value.type
        count = guest_accelerator.value.count
        gpu_driver_installation_config {
          gpu_driver_version = "DEFAULT" # GKE installs the driver; the device plugin is built in
        }
      }
    }

    # Explicit: GKE adds nvidia.com/gpu=present only when a non-GPU pool exists.
    dynamic "taint" {
      for_each = each.value.taint == null ? [] : [each.value.taint]
      content {
        key    = taint.value.key
        value  = taint.value.value
        effect = taint.value.effect
      }
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }

  lifecycle {
    ignore_changes = [initial_node_count]
  }
}
