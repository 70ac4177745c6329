"""faceaudit's REST service (FastAPI): API keys and roles, limits, audit jobs, auditor's page."""

from faceaudit.service.app import create_app
from faceaudit.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
