"""Production input/output contracts per use case (tasks.yaml) and the heads that serve them."""
