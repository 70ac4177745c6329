"""Authentication and authorisation as FastAPI dependencies.

The API accepts a key in ``X-API-Key`` or ``Authorization: Bearer``. The auditor's web pages
additionally accept the HttpOnly cookie set by their login form (GET pages only, so a cookie can
never trigger a state change). Every authenticated call spends one token of the key's rate limit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from faceaudit.service.context import ServiceContext, get_context
from faceaudit.service.keys import ApiKey, Role
from faceaudit.service.problems import AuthenticationError, PermissionDeniedError

COOKIE_NAME = "faceaudit_key"

_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="An API key created with `faceaudit keys create`.")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")
_cookie = APIKeyCookie(name=COOKIE_NAME, auto_error=False,
                       description="Set by the auditor page's login form (web pages only).")


def _authenticate(ctx: ServiceContext, token: str | None, roles: frozenset[Role]) -> ApiKey:
    if not token:
        raise AuthenticationError("an API key is required (X-API-Key or Authorization: Bearer)")
    key = ctx.keys.authenticate(token)
    if key is None:
        raise AuthenticationError("the API key is unknown or revoked")
    if key.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise PermissionDeniedError(f"role {key.role.value!r} may not do this; allowed: {allowed}")
    ctx.limiter.hit(key.key_id)
    return key


def require(*roles: Role) -> Callable[..., ApiKey]:
    """Dependency: the caller's key, which must hold one of ``roles`` (401/403/429 otherwise)."""
    allowed = frozenset(roles)

    def dependency(
        request: Request,
        header: Annotated[str | None, Depends(_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        token = header or (bearer.credentials if bearer else None)
        return _authenticate(get_context(request), token, allowed)

    return dependency


def require_page(*roles: Role) -> Callable[..., ApiKey]:
    """Like :func:`require`, but also accepts the login cookie (for GET web pages only)."""
    allowed = frozenset(roles)

    def dependency(
        request: Request,
        header: Annotated[str | None, Depends(_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        cookie: Annotated[str | None, Depends(_cookie)],
    ) -> ApiKey:
        token = header or (bearer.credentials if bearer else None) or cookie
        return _authenticate(get_context(request), token, allowed)

    return dependency


def page_key(*roles: Role) -> Callable[..., ApiKey | None]:
    """Like :func:`require_page`, for a GET page a browser opens: None when the request carries
    no key at all, or only a sign-in cookie that no longer opens it (revoked) — the page then
    sends the browser to its sign-in form (303) instead of answering 401 JSON. A key sent in a
    header is judged as :func:`require` judges it (401/403)."""
    allowed = frozenset(roles)

    def dependency(
        request: Request,
        header: Annotated[str | None, Depends(_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        cookie: Annotated[str | None, Depends(_cookie)],
    ) -> ApiKey | None:
        token = header or (bearer.credentials if bearer else None)
        if token:
            return _authenticate(get_context(request), token, allowed)
        if not cookie:
            return None
        try:
            return _authenticate(get_context(request), cookie, allowed)
        except AuthenticationError:
            return None

    return dependency
