"""Outbreak detection and alerts (issue 15): signals from the warehouse, detection algorithms
that agree with R ``surveillance``, alerts delivered to the right leader."""
