output "tags" {
  description = "Tags for AWS and Azure: the canonical cost tags plus the extra tags, normalized like the labels so cost reports group the same on every cloud."
  value       = local.labels
}

output "labels" {
  description = "Labels for GCP: every key and value normalized to GCP's label rules."
  value       = local.labels
}

output "cost_tag_keys" {
  description = "The canonical cost tag keys, for policies and cost reports."
  value       = sort(keys(local.canonical))
}
