# Cost tags: one canonical, lowercase-hyphen key set for every cloud, so cost reports group the
# same way on AWS (tags), GCP (labels) and Azure (tags).

locals {
  canonical = {
    project       = var.project
    environment   = var.environment
    owner         = var.owner
    "cost-center" = var.cost_center
    managed-by    = var.managed_by
    model         = var.model
  }

  # Normalize to a GCP label: lowercase, runs of other characters become '-', no leading or
  # trailing '-', at most 63 characters (AWS and Azure take the same values unchanged).
  normalized_extra = {
    for key, value in var.extra_tags :
    trim(substr(replace(lower(key), "/[^a-z0-9_-]+/", "-"), 0, 63), "-") =>
    trim(substr(replace(lower(value), "/[^a-z0-9_-]+/", "-"), 0, 63), "-")
  }
  normalized_canonical = {
    for key, value in local.canonical :
    key => trim(substr(replace(lower(value), "/[^a-z0-9_-]+/", "-"), 0, 63), "-")
  }

  # An empty model (no model known yet) becomes "none" rather than an empty tag.
  labels = merge(local.normalized_extra, local.normalized_canonical, {
    model = local.normalized_canonical.model == "" ? "none" : local.normalized_canonical.model
  })
}
