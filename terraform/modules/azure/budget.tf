# Budget at the decision engine's monthly estimate for this environment, on the resource group
# that holds all of it; alerts at 80% and 100% of actual spend.

resource "azurerm_monitor_action_group" "budget" {
  name                = "ag-${local.name}-budget"
  resource_group_name = azurerm_resource_group.this.name
  short_name          = substr(replace(local.name, "-", ""), 0, 12)
  tags                = var.tags

  dynamic "email_receiver" {
    for_each = var.budget_alert_emails
    content {
      name          = "email-${email_receiver.key}"
      email_address = email_receiver.value
    }
  }
}

resource "azurerm_consumption_budget_resource_group" "monthly" {
  name              = "budget-${local.name}"
  resource_group_id = azurerm_resource_group.this.id
  amount            = ceil(var.monthly_budget_usd)
  time_grain        = "Monthly"

  time_period {
    # The first day of the month Terraform first ran; later runs keep it (ignore_changes).
    start_date = formatdate("YYYY-MM-01'T'00:00:00Z", plantimestamp())
  }

  dynamic "notification" {
    for_each = toset([80, 100])
    content {
      enabled        = true
      threshold      = notification.key
      threshold_type = "Actual"
      operator       = "GreaterThanOrEqualTo"
      contact_roles  = ["Owner"]
      contact_emails = var.budget_alert_emails
      contact_groups = [azurerm_monitor_action_group.budget.id]
    }
  }

  lifecycle {
    ignore_changes = [time_period]
  }
}
