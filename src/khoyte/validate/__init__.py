"""Validation of claim records: rules (error → record rejected, warning → accepted with a note)."""
