"""An in-repo fake of fal's queue and storage APIs; see app.py."""

from .app import ADMIN_KEY, VALID_KEY, FakeFal, FakeJob, Fault
from .serve import serve, serve_app

__all__ = ["ADMIN_KEY", "VALID_KEY", "FakeFal", "FakeJob", "Fault", "serve", "serve_app"]
