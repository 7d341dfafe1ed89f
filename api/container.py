"""What the API needs, built by the composition root (cli/bootstrap.py) and by tests alike."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.broker.bus import Bus
from adapters.crypto import IdCipher
from adapters.db import queries
from adapters.db.repositories import SqlUnitOfWork
from adapters.pades import ResultSigner
from adapters.settings import TokenLifetimes
from adapters.sms.dispatch import SmsDispatch
from api.principals import PrincipalCache
from api.ratelimit import RateLimits
from api.rendering import Renderers
from handoff.codes import ScanSigner
from handoff.ports import BlobStore, SmsReportReceiver, TrackingPushReceiver
from handoff.services import Deps


@dataclass
class Container:
    engine: AsyncEngine
    uow: Callable[[], SqlUnitOfWork]
    deps: Deps
    signer: ScanSigner
    cipher: IdCipher
    blobs: BlobStore
    public_base_url: str
    readiness: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    max_evidence_bytes: int = 2 * 1024 * 1024
    evidence_daily_bytes: int = 50 * 1024 * 1024
    """Evidence one user may upload per local day (HANDOFF_EVIDENCE_DAILY_MB)."""
    material_max_bytes: int = 20 * 1024 * 1024
    """Largest electronic material file (HANDOFF_MATERIAL_MAX_MB)."""
    material_max_pages: int = 300
    """Most pages of one attached PDF (HANDOFF_MATERIAL_MAX_PAGES)."""
    material_daily_bytes: int = 2000 * 1024 * 1024
    """Electronic materials one user may attach per local day (HANDOFF_MATERIAL_DAILY_MB)."""
    result_signers: dict[str, ResultSigner] = field(default_factory=dict)
    """Who signs electronic results (电子证照) per deciding office id (``*``: every other office)."""
    sms_receivers: dict[str, SmsReportReceiver] = field(default_factory=dict)
    carrier_receivers: dict[str, TrackingPushReceiver] = field(default_factory=dict)
    bus: Bus | None = None
    """The message bus, for the admin's parked messages; None where the API runs without one."""
    stall_days: int = 3
    """Working days without a custody event after which a package is listed as stalled."""
    broker_prefix: str = "handoff"
    """The name prefix of the bus's queues (adapters/broker/topology.groups)."""
    token_lifetimes: TokenLifetimes = field(default_factory=TokenLifetimes)
    """How long the tokens issued through the admin API last by default."""
    rate_limits: RateLimits = field(default_factory=RateLimits)
    """Per client address: the tracking page, the API, failed token uses (api/ratelimit.py)."""
    renderers: Renderers = field(default_factory=Renderers)
    """Where documents are drawn: counter documents and exports on separate pools (api/rendering.py)."""
    readiness_timeout_seconds: float = 2.0
    """How long /readyz waits for one dependency before calling it down."""
    session_idle_minutes: int = 30
    """A signed-in session ends after this many minutes without a request (HANDOFF_SESSION_IDLE_MINUTES)."""
    sms: SmsDispatch | None = None
    """Sends a staff's resend at once where this process runs the notifications group; None
    elsewhere (the group's sweeper sends it)."""
    review_bodies: dict[str, str] = field(default_factory=dict)
    """行政复议机关 per office id (``*``: every other office); HANDOFF_REVIEW_BODY."""
    courts: dict[str, str] = field(default_factory=dict)
    """人民法院 for 行政诉讼 per office id (``*``: every other office); HANDOFF_COURT."""

    principal_cache_seconds: float = 5.0
    """How long a token's principal is remembered (HANDOFF_PRINCIPAL_CACHE_SECONDS; 0: never);
    a revocation holds at once all the same (api/principals.py)."""
    principals: PrincipalCache = field(init=False)

    _regions: dict[str, str] = field(default_factory=dict)
    _regions_loaded_at: float = -1.0
    regions_ttl_seconds: float = 30.0

    def __post_init__(self) -> None:
        self.principals = PrincipalCache(
            self.principal_cache_seconds, listening=self.engine.dialect.name == "postgresql"
        )

    async def office_regions(self) -> dict[str, str]:
        """office id → region code, for scope checks; read at most every ``regions_ttl_seconds``
        (offices change rarely, and a scope check must not cost every request a query)."""
        now = time.monotonic()
        if self._regions_loaded_at < 0 or now - self._regions_loaded_at > self.regions_ttl_seconds:
            async with self.engine.connect() as conn:
                self._regions = {o.id: o.region_code for o in (await queries.offices(conn)).values()}
            self._regions_loaded_at = now
        return self._regions

    def forget_office_regions(self) -> None:
        """An office was added or moved: the next scope check reads the offices again."""
        self._regions_loaded_at = -1.0

    def result_signer(self, office_id: str) -> ResultSigner | None:
        return self.result_signers.get(office_id) or self.result_signers.get("*")

    def tracking_url(self, case_id: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/t/{self.deps.tracking.token_for(case_id)}"
