"""faceaudit: face recognition that can be held to account."""

__version__ = "0.1.0"
