"""Feature layer: Feast definitions built from contract.yaml and the functions training/serving call."""
