"""UrbanLens errors: small subclasses of built-in exceptions.

Every error raised on purpose by UrbanLens is one of these, so the CLI and the
dashboard can show one clear line instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "UrbanLensError",
    "InputError",
    "DataFormatError",
    "StoreError",
    "SchemaVersionError",
    "ModelError",
    "ChecksumError",
    "UnsafeFileError",
    "VideoError",
    "Cancelled",
]


class UrbanLensError(Exception):
    """Base class of every error UrbanLens raises on purpose."""


class InputError(UrbanLensError, ValueError):
    """A value given by a person (argument, file, setting) is not acceptable."""


class DataFormatError(InputError):
    """A file's content is malformed (CSV, GeoJSON, image, video, checkpoint)."""


class StoreError(UrbanLensError, RuntimeError):
    """The database cannot be opened, upgraded or written."""


class SchemaVersionError(StoreError):
    """The database was written by a newer UrbanLens than this one."""


class ModelError(UrbanLensError, RuntimeError):
    """A model is missing, corrupt, or disagrees with its card."""


class ChecksumError(ModelError):
    """A downloaded or mirrored file does not have the pinned SHA-256."""


class UnsafeFileError(ModelError):
    """A checkpoint asks for something a plain tensor state_dict never needs."""


class VideoError(InputError):
    """A clip cannot be opened or decoded."""


class Cancelled(UrbanLensError):
    """A long-running job was cancelled by its caller."""
