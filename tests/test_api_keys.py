"""API keys (chargebus.security.apikeys): shown once, kept as a hash, scoped, limited to
sites or stations, revoked; and `chargebus api-keys` against a running system."""
import json
from datetime import UTC, datetime

import pytest

from site_stations import cli
from chargebus.security import apikeys
from chargebus.security.apikeys import Refused, Scope

MADE = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)


def test_a_key_opens_only_with_its_secret_and_not_once_revoked():
    record, text = apikeys.issue("billing", Scope.READ, MADE, "test")
    assert text.startswith(f"cbk_{record.key_id}_") and record.secret_sha256 not in text
    assert apikeys.key_id_of(text) == record.key_id
    assert apikeys.authenticated(record, text) is record
    with pytest.raises(Refused, match="no such API key"):
        apikeys.authenticated(record, text[:-1] + ("A" if text[-1] != "A" else "B"))
    with pytest.raises(Refused, match="no such API key"):
        apikeys.authenticated(None, text)
    with pytest.raises(Refused, match="not an API key"):
        apikeys.key_id_of("Bearer something")
    revoked = record.model_copy(update={"revoked_at": MADE})
    with pytest.raises(Refused, match="revoked at 2030-01-02T03:04:00"):
        apikeys.authenticated(revoked, text)


def test_scopes_nest():
    for scope, allowed in ((Scope.READ, {Scope.READ}),
                           (Scope.OPERATE, {Scope.READ, Scope.OPERATE}),
                           (Scope.ADMIN, set(Scope))):
        record, _ = apikeys.issue("k", scope, MADE, "test")
        assert {needed for needed in Scope if apikeys.allows(record, needed)} == allowed


def test_a_limited_key_reaches_its_sites_and_stations_only():
    everything, _ = apikeys.issue("all", Scope.READ, MADE, "test")
    assert apikeys.reaches(everything, "CP-9", None) and not apikeys.limited(everything)
    limited, _ = apikeys.issue("depot", Scope.OPERATE, MADE, "test", sites=["depot"],
                               stations=["CP-1"])
    assert apikeys.limited(limited)
    assert apikeys.reaches(limited, "CP-2", "depot")
    assert apikeys.reaches(limited, "CP-1", None)
    assert not apikeys.reaches(limited, "CP-3", "mall")
    assert not apikeys.reaches(limited, "CP-3", None)


@pytest.mark.parametrize("name", ["", "-lead", "has space", "x" * 65])
def test_a_bad_name_is_refused(name):
    with pytest.raises(ValueError, match="a key's name is"):
        apikeys.issue(name, Scope.READ, MADE, "test")


@pytest.mark.asyncio(loop_scope="session")
async def test_keys_are_made_listed_and_revoked_from_the_command_line(system, stores):
    made = await cli(system, "api-keys", "add", "support-desk", "--scope", "operate",
                     "--sites", "depot,mall")
    assert made.returncode == 0, made.stderr
    text = made.stdout.strip()
    key_id = apikeys.key_id_of(text)
    assert "shown this once" in made.stderr and "only sites depot, mall" in made.stderr
    kept = await stores.api_keys.get(key_id)
    assert apikeys.authenticated(kept, text).scope == "operate"
    twice = await cli(system, "api-keys", "add", "support-desk", "--scope", "read")
    assert twice.returncode == 2 and "exists" in twice.stderr

    listed = await cli(system, "api-keys", "list", "--json")
    [shown] = [json.loads(line) for line in listed.stdout.splitlines()
               if json.loads(line)["key_id"] == key_id]
    assert shown["sites"] == ["depot", "mall"] and "secret_sha256" not in shown
    assert text.rsplit("_", 1)[1] not in listed.stdout

    revoked = await cli(system, "api-keys", "revoke", "support-desk")
    assert revoked.returncode == 0 and key_id in revoked.stdout
    with pytest.raises(Refused, match="revoked"):
        apikeys.authenticated(await stores.api_keys.get(key_id), text)
    again = await cli(system, "api-keys", "revoke", key_id)
    assert again.returncode == 2 and "no active key" in again.stderr
    bad = await cli(system, "api-keys", "add", "x", "--scope", "root")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
