"""What an operator can see of the paid path: OpenTelemetry traces (tracing.py)."""
