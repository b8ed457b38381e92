"""The web application: one FastAPI app (``create_app``) composed of each component's routers."""
