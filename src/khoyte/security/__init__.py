"""Who may see what: users, roles, org-unit scopes, sessions and the tamper-evident audit trail."""
