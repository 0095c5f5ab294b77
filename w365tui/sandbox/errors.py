"""Errors the emulated services answer with, in each service's own shape."""

from __future__ import annotations

# Dataverse error codes, as the real service sends them.
CODE_ODATA = "0x0"  # errors raised by the OData layer (unknown property, bad syntax)
CODE_NOT_FOUND = "0x80040217"
CODE_RESOURCE_NOT_FOUND = "0x8006088a"
CODE_CONCURRENCY = "0x80060882"
CODE_DUPLICATE = "0x80040237"
CODE_PAYLOAD = "0x80048d19"
CODE_VALIDATION = "0x80044331"
CODE_BAD_STATE = "0x80048408"
CODE_PLUGIN = "0x80040265"
CODE_QUERY = "0x80060888"
CODE_AGGREGATE_LIMIT = "0x8004e023"
CODE_THROTTLED = "0x80072322"
CODE_UNAVAILABLE = "0x80040216"
CODE_METHOD = "0x80060887"


class DataverseError(Exception):
    """A refusal, answered as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(message: str, code: str = CODE_ODATA) -> DataverseError:
    return DataverseError(400, code, message)


def payload_error(entity_set: str, inner: str) -> DataverseError:
    return DataverseError(
        400,
        CODE_PAYLOAD,
        f"Error identified in Payload provided by the user for Entity :'{entity_set}', For more "
        "information on this error please follow this help link "
        "https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : "
        f"Microsoft.OData.ODataException: {inner}",
    )


def not_found(logical_name: str, row_id: str) -> DataverseError:
    return DataverseError(
        404, CODE_NOT_FOUND, f"Entity '{logical_name}' With Id = {row_id} Does Not Exist"
    )


class IonError(Exception):
    """An Ion refusal: ``{"error": "NOT_FOUND", "message", "code": 404, "details": []}``."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {"error": self.error, "message": self.message, "code": self.status, "details": []}
