"""Feature layer: Feast definitions built from families.yaml and the functions training/serving call."""
