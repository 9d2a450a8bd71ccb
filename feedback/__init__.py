"""Satisfaction surveys, reopening on "unsatisfied", statistics and the public dashboard."""
