"""Imports every component's models so that ``Base.metadata`` knows all tables (for Alembic and
for tests). Each component adds one import line here."""

from __future__ import annotations

import khoyte.gateway.models  # noqa: F401  (gateway: credentials, submissions)
import khoyte.registry.models  # noqa: F401  (registry: places, facilities)
from khoyte.security import models as _security_models  # noqa: F401
