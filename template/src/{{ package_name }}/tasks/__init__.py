"""The production input/output contract of this project's use case (decisions.task) and its task head."""
