"""Tests of the deployment files: compose, Dockerfile, Prometheus rules, Grafana dashboards."""
