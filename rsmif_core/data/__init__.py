"""Readers of the fusion collections, the Wald-protocol simulator and the sample data."""
