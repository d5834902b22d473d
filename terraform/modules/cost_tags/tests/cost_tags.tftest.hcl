# Offline: the module uses no provider. Run: terraform init && terraform test

variables {
  project     = "churn-prediction"
  environment = "prod"
  owner       = "ml-team"
  cost_center = "cc-1234"
  model       = "Llama-2 7B (INT4)"
}

run "canonical_tags" {
  command = plan

  assert {
    condition = output.tags == {
      project       = "churn-prediction"
      environment   = "prod"
      owner         = "ml-team"
      "cost-center" = "cc-1234"
      managed-by    = "terraform"
      model         = "llama-2-7b-int4"
    }
    error_message = "The tag map is not the canonical set."
  }

  assert {
    condition     = output.cost_tag_keys == tolist(["cost-center", "environment", "managed-by", "model", "owner", "project"])
    error_message = "Unexpected cost tag keys."
  }
}

run "labels_are_gcp_safe" {
  command = plan

  variables {
    model      = "A Very Long Model Name With Spaces And Symbols !!! that goes on and on past sixty-three chars"
    extra_tags = { "Team Name" = "Data Science", "tier" = "Gold" }
  }

  assert {
    condition = alltrue([
      for key, value in output.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", key)) && can(regex("^[a-z0-9_-]{0,63}$", value))
    ])
    error_message = "A label key or value breaks GCP's label rules."
  }

  assert {
    condition     = output.labels["team-name"] == "data-science" && output.labels.tier == "gold"
    error_message = "Extra tags are not normalized."
  }

  assert {
    condition     = length(output.labels.model) <= 63 && !endswith(output.labels.model, "-")
    error_message = "The model label is not truncated cleanly."
  }
}

# The env roots pass the values the decision engine normalised (platform.yaml
# decisions.names.environments.<env>.labels): the module must keep them as they are.
run "normalised_values_pass_unchanged" {
  command = plan

  variables {
    model = "llama-2-7b-int4"
  }

  assert {
    condition     = output.labels.model == "llama-2-7b-int4" && output.labels.project == "churn-prediction"
    error_message = "An already normalised value was changed."
  }
}

run "cost_tags_win_over_extra_tags" {
  command = plan

  variables {
    extra_tags = { owner = "someone-else" }
  }

  assert {
    condition     = output.tags.owner == "ml-team"
    error_message = "An extra tag overrode a cost tag."
  }
}

run "empty_model_is_none" {
  command = plan

  variables {
    model = ""
  }

  assert {
    condition     = output.labels.model == "none"
    error_message = "An empty model must be tagged none."
  }
}

run "rejects_empty_project" {
  command = plan

  variables {
    project = ""
  }

  expect_failures = [var.project]
}

run "rejects_uppercase_project" {
  command = plan

  variables {
    project = "Churn_Prediction"
  }

  expect_failures = [var.project]
}

run "rejects_unknown_environment" {
  command = plan

  variables {
    environment = "production"
  }

  expect_failures = [var.environment]
}

run "rejects_empty_owner" {
  command = plan

  variables {
    owner = ""
  }

  expect_failures = [var.owner]
}

run "rejects_invalid_cost_center" {
  command = plan

  variables {
    cost_center = "CC 1234!"
  }

  expect_failures = [var.cost_center]
}

run "rejects_invalid_extra_tag_key" {
  command = plan

  variables {
    extra_tags = { "1bad" = "x" }
  }

  expect_failures = [var.extra_tags]
}
