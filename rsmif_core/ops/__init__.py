"""Numerical building blocks shared by metrics, data simulation and methods (one implementation each)."""
