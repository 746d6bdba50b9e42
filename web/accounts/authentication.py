"""API tokens that expire ``settings.TOKEN_MAX_AGE_DAYS`` after they were issued.

The token is DRF's ``authtoken.Token`` (one per user, ``created`` set when it is issued);
``POST /api/v1/auth/token/`` issues it (a new one once the old one expired) and ``DELETE``
revokes it. An expired token answers 401 ``token_expired`` (a problem response).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = "The token has expired; obtain a new one with POST /api/v1/auth/token/."
    default_code = "token_expired"


def token_expired(token: Token, now=None) -> bool:
    days = settings.TOKEN_MAX_AGE_DAYS
    if days <= 0:
        return False
    return token.created + timedelta(days=days) <= (now or timezone.now())


def issue_token(user) -> Token:
    """The user's token: the current one, or a new one when there is none or it expired."""
    with transaction.atomic():
        token = Token.objects.select_for_update().filter(user=user).first()
        if token is not None and not token_expired(token):
            return token
        if token is not None:
            token.delete()
    token, _created = Token.objects.get_or_create(user=user)  # get_or_create survives a race
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused once the token is older than the max age."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise TokenExpired()
        return user, token
