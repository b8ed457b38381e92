"""Imports every component's models so that ``Base.metadata`` knows all tables (for Alembic and
for tests). Each component adds one import line here."""

from __future__ import annotations

import khoyte.gateway.models  # noqa: F401  (gateway: facilities, credentials, submissions)
from khoyte.security import models as _security_models  # noqa: F401
