"""khoyte — Kho dữ liệu y tế tập trung Sở Y tế (provincial health data hub)."""

__version__ = "0.1.0"
