"""When a station is asked to renew its certificate, on a clock the test holds: within
the window before its end, not again within the repeat interval, and by one worker of
many (compare-and-set on its record in the real KV bucket)."""
import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chargebus.ocpp import OcppVersion
from chargebus.security.certificates import RenewalPolicy, claim_renewal
from chargebus.state.records import CertificateFacts, Presence, StationCertificates

POLICY = RenewalPolicy(renew_before=timedelta(days=30), repeat=timedelta(hours=24))
NOW = datetime(2031, 5, 17, 12, 0, tzinfo=UTC)  # any moment: the policy reads no clock


def presence(station_id: str, ends: datetime) -> Presence:
    return Presence(station_id=station_id, edge_id="edge-1", connection_id="c-1",
                    version=OcppVersion.V201, connected_at=NOW - timedelta(hours=1),
                    certificate=CertificateFacts(serial="1f", fingerprint="00" * 32,
                                                 not_after=ends))


def test_due_within_the_window_and_not_again_before_the_repeat():
    near, far = presence("CP", NOW + timedelta(days=10)), presence("CP", NOW + timedelta(days=90))
    assert POLICY.due(None, near, NOW)
    assert not POLICY.due(None, far, NOW)
    assert not POLICY.due(None, None, NOW)  # nothing known of its certificate
    asked = StationCertificates(station_id="CP", renewal_requested_at=NOW)
    assert not POLICY.due(asked, near, NOW + timedelta(hours=23))
    assert POLICY.due(asked, near, NOW + timedelta(hours=24))


def test_a_certificate_accepted_later_counts_over_the_one_connected_with():
    renewed = StationCertificates(station_id="CP", current=CertificateFacts(
        serial="2a", fingerprint="11" * 32, not_after=NOW + timedelta(days=365)))
    assert not POLICY.due(renewed, presence("CP", NOW + timedelta(days=5)), NOW)


@pytest.mark.asyncio(loop_scope="session")
async def test_of_many_workers_one_claims_the_renewal(stores):
    station_id = f"CLAIM-{uuid.uuid4().hex[:6]}"
    near = presence(station_id, NOW + timedelta(days=3))
    claims = await asyncio.gather(*[claim_renewal(stores, station_id, POLICY, near, NOW)
                                    for _ in range(8)])
    assert sorted(claims) == [False] * 7 + [True]
    record = await stores.certificates.get(station_id)
    assert record.renewal_requested_at == NOW
    assert not await claim_renewal(stores, station_id, POLICY, near, NOW + timedelta(hours=1))
    assert await claim_renewal(stores, station_id, POLICY, near, NOW + timedelta(days=1))
