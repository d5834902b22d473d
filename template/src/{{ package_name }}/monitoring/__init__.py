"""Monitoring: the inference log, the PSI drift job, alerts and metrics for Prometheus."""
