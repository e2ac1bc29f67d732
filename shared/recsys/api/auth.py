"""Who may read whose recommendations (and send whose events), when API Gateway's JWT authorizer
vouches for the caller.

The authorizer has already checked the token's signature, issuer, audience and expiry; it passes the
claims on in `requestContext.authorizer.jwt`. A caller may ask about, or send events of, only the user
its token names (the `AUTH_USER_CLAIM` claim, `sub` by default), unless the token carries
`AUTH_ADMIN_SCOPE`. IAM callers (services signing with SigV4), direct invokes and local serving have
no end-user identity and are not restricted here: IAM policies decide who may call at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from recsys.api.settings import ApiSettings
from recsys.errors import ForbiddenError


def jwt_authorizer(request: Request) -> dict[str, Any] | None:
    """The JWT authorizer's context of this request, if API Gateway's JWT authorizer handled it."""
    event = request.scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    jwt = authorizer.get("jwt") if isinstance(authorizer, dict) else None
    return jwt if isinstance(jwt, dict) else None


def check_acts_for(request: Request, user_ids: Iterable[str], settings: ApiSettings) -> None:
    """Raise ForbiddenError unless this caller may act for each of these users (read their
    recommendations, send their events)."""
    jwt = jwt_authorizer(request)
    if jwt is None:
        return
    found = jwt.get("claims")
    claims: dict[str, Any] = found if isinstance(found, dict) else {}
    scopes = jwt.get("scopes") or str(claims.get("scope", "")).split()
    if settings.auth_admin_scope in scopes:
        return
    own = str(claims.get(settings.auth_user_claim, ""))
    if any(user_id != own for user_id in user_ids):
        raise ForbiddenError(
            f"this token may act only for its own user (claim {settings.auth_user_claim!r}), "
            f"or for any user with scope {settings.auth_admin_scope!r}"
        )
