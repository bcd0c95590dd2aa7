"""Observability around the platform: the batch-side metrics exporter and the Alertmanager
config renderer; the alert rules and dashboards live in deploy/. Imports nothing heavy."""
