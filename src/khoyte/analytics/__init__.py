"""Indicators and dashboard queries over the analytics store (through ``AnalyticsEngine``)."""
