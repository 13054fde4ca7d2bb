"""Quality indices: reduced resolution (with reference) and full resolution (no reference)."""
