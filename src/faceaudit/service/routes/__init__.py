"""One router per resource; :func:`faceaudit.service.app.create_app` includes them all."""
