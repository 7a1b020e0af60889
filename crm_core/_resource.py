"""What every resource class (``client.tasks``, ``client.leads`` ...) holds, in one place."""

from __future__ import annotations

import attrs
import cattrs

from ._options import Transport
from ._reconcile import CreateLedger, ReconcileSettings

__all__ = ["CreatingResource", "Resource"]


@attrs.frozen(kw_only=True)
class Resource:
    """A resource of one client: it sends requests and decodes the answers.

    Attributes:
        session: Sends the requests: the client's session (retries, pacing, concurrency), or a
            view of it from ``client.with_options(...)``.
        converter: The client's cattrs converter (wire <-> models).
    """

    session: Transport
    converter: cattrs.Converter = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class CreatingResource(Resource):
    """A resource that creates records, each exactly once.

    Attributes:
        ledger: Records already created by this client or job (exactly-once creates,
            ``dedupe_key``).
        reconcile: How ambiguous creates are settled (settle period, look-ups).
    """

    ledger: CreateLedger = attrs.field(repr=False)
    reconcile: ReconcileSettings
