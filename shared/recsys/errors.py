"""Domain errors. Each expected failure has a type, an HTTP status and a stable code.

The HTTP layer, the CLI and the batch job map these in one place each; anything that is not a
`RecsysError` is a bug and is answered generically.
"""

from __future__ import annotations


class RecsysError(Exception):
    """Base of every expected failure."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputDataError(RecsysError):
    """An input table (interactions, items, user list) is missing, unreadable or invalid."""

    code = "invalid_input"
    status = 422


class InvalidRequestError(RecsysError):
    """A request that breaks the API's rules (k out of range, a malformed id, an unknown genre)."""

    code = "invalid_request"
    status = 422


class TooLargeError(RecsysError):
    """A request carrying more ids than the configured maximum."""

    code = "too_large"
    status = 413


class ConfigError(RecsysError):
    """A settings file or `--set` override is invalid."""

    code = "invalid_config"


class ForbiddenError(RecsysError):
    """The caller is authenticated but may not read this user's recommendations."""

    code = "forbidden"
    status = 403


class NotFoundError(RecsysError):
    """A requested entity (item, version, file) does not exist."""

    code = "not_found"
    status = 404


class ModelUnavailableError(RecsysError):
    """No usable model is loaded (none published, or every candidate version failed to load)."""

    code = "model_unavailable"
    status = 503


class NoModelPublishedError(ModelUnavailableError):
    """CURRENT does not exist yet: a normal state before the first `recsys publish`."""


class ModelIntegrityError(RecsysError):
    """A model version is corrupt, incomplete or incompatible with this code."""

    code = "model_integrity"
    status = 503


class CurrentChangedError(RecsysError):
    """CURRENT changed between reading it and writing it: another publish or rollback got there first."""

    code = "current_changed"
    status = 409


class PromotionRefusedError(RecsysError):
    """The promotion gate refused a model that scores below the live one."""

    code = "promotion_refused"
    status = 409


class EventStoreUnavailableError(RecsysError):
    """The event table or the event log refused a write after retries; the sender should retry."""

    code = "event_store_unavailable"
    status = 503
