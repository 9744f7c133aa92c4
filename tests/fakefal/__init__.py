"""An in-repo fake of fal's queue and storage APIs; see app.py."""

from .app import VALID_KEY, FakeFal, FakeJob, Fault
from .serve import serve

__all__ = ["VALID_KEY", "FakeFal", "FakeJob", "Fault", "serve"]
