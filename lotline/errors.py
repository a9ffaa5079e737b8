"""The one error type the domain raises: a stable code and a human message."""


class DomainError(Exception):
    """A refused operation. ``code`` is stable (API clients and tests rely on it)."""

    status = 422

    def __init__(self, code: str, message: str, *, status: int | None = None, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        if status is not None:
            self.status = status


class NotFound(DomainError):
    status = 404

    def __init__(self, message: str, code: str = "not_found", **details):
        super().__init__(code, message, **details)


class Conflict(DomainError):
    status = 409

    def __init__(self, message: str, code: str = "conflict", **details):
        super().__init__(code, message, **details)


class ValidationError(DomainError):
    status = 422

    def __init__(self, message: str, field: str | None = None, code: str = "validation_error"):
        super().__init__(code, message, field=field)
        self.field = field
