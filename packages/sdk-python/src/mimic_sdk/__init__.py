"""The Python client of the Mimic API: simulated customers (personas) talking to the chatbot under test
(agents) in sessions.

.. code-block:: python

    from mimic_sdk import MimicClient

    client = MimicClient(base_url="http://localhost:4000", token="your-jwt-token")
    session = client.sessions.create(agent_id="…", persona_id="…", config={"duration": 300, "max_messages": 50})

Every schema of the API is a model of the same name (``Persona``, ``Session``, ``Message`` …), importable from
here; the resources and models are generated from the API's OpenAPI document (``mimic_sdk.generated``).
"""
from . import generated
from ._client import AsyncMimicClient, MimicClient
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    AuthorizationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    MimicError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    ValidationError,
)
from ._models import NOT_GIVEN, Model, NotGiven
from ._pagination import AsyncPage, AsyncPager, SyncPage
from ._sessions import EventStream, SessionDataEvent, SessionEvent
from ._transport import RequestOptions
from ._version import __version__
from .generated import models
from .generated.models import *  # noqa: F403 - every schema, by name

__all__ = [
    "MimicClient",
    "AsyncMimicClient",
    "MimicError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "AuthorizationError",
    "NotFoundError",
    "ConflictError",
    "ValidationError",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    "APIConnectionError",
    "APITimeoutError",
    "Model",
    "NotGiven",
    "NOT_GIVEN",
    "SyncPage",
    "AsyncPage",
    "AsyncPager",
    "EventStream",
    "SessionEvent",
    "SessionDataEvent",
    "RequestOptions",
    "generated",
    "models",
    "__version__",
]
__all__ += models.__all__
