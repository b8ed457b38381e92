"""The master person index: one stable health ID per person across every facility (issue 14)."""
