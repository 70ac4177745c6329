"""faceaudit's REST service (FastAPI): API keys and roles, limits, audit jobs, auditor's page.

The app lives in :mod:`faceaudit.service.app` (``create_app``); this package imports nothing at
load time, so ``faceaudit keys …`` and the rest of the CLI start without loading FastAPI.
"""
