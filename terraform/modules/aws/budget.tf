# Budget at the decision engine's monthly estimate for this environment; alerts at 80% and 100%
# of actual spend, to the SNS topic (subscribe chat / on-call to it) and to the listed addresses.

resource "aws_sns_topic" "budget" {
  name              = "${local.name}-budget-alerts"
  kms_master_key_id = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_sns_topic_policy" "budget" {
  arn    = aws_sns_topic.budget.arn
  policy = data.aws_iam_policy_document.budget_topic.json
}

data "aws_iam_policy_document" "budget_topic" {
  statement {
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.budget.arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_budgets_budget" "monthly" {
  name         = "${local.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  # Spend of resources tagged with this project (an activated cost allocation tag). Keep each
  # environment in its own account, or both budgets count both environments.
  cost_filter {
    name   = "TagKeyValue"
    values = [format("user:project$%s", var.tags["project"])]
  }

  dynamic "notification" {
    for_each = toset([80, 100])
    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.key
      threshold_type             = "PERCENTAGE"
      notification_type          = "ACTUAL"
      subscriber_email_addresses = var.budget_alert_emails
      subscriber_sns_topic_arns  = [aws_sns_topic.budget.arn]
    }
  }

  tags = var.tags
}

resource "aws_ce_cost_allocation_tag" "cost_tags" {
  for_each = var.activate_cost_allocation_tags ? toset(keys(var.tags)) : toset([])

  tag_key = each.key
  status  = "Active"
}
