# Budget at the decision engine's monthly estimate for this environment; alerts at 80% and 100%.
# Scope: this project's spend on resources labelled with the project's cost label.
resource "google_billing_budget" "monthly" {
  billing_account = var.billing_account_id
  display_name    = "${local.name} monthly"

  budget_filter {
    projects = ["projects/${data.google_project.this.number}"]
    labels   = { project = var.labels["project"] }
  }

  amount {
    specified_amount {
      currency_code = "USD"
      units         = tostring(ceil(var.monthly_budget_usd))
    }
  }

  dynamic "threshold_rules" {
    for_each = toset([0.8, 1.0])
    content {
      threshold_percent = threshold_rules.key
      spend_basis       = "CURRENT_SPEND"
    }
  }

  dynamic "all_updates_rule" {
    for_each = length(var.budget_notification_channels) > 0 ? [1] : []
    content {
      monitoring_notification_channels = var.budget_notification_channels
    }
  }
}
