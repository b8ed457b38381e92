"""Imports every component's models so that ``Base.metadata`` knows all tables (for Alembic and
for tests). Each component adds one import line here."""

from __future__ import annotations

import khoyte.gateway.models  # noqa: F401  (gateway: credentials, submissions)
from khoyte.aggregate import models as _aggregate_models  # noqa: F401  (aggregate values)
from khoyte.persons import models as _persons_models  # noqa: F401  (master person index)
from khoyte.registry import models as _registry_models  # noqa: F401  (places, facilities)
from khoyte.security import models as _security_models  # noqa: F401
from khoyte.surveillance import tables as _surveillance_tables  # noqa: F401  (alerts, requests)
