import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargebus.bus import subjects
from chargebus.state.identifiers import InvalidIdentifier, check_station_id, check_token_id, kv_key

KV_KEY_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.")


@pytest.mark.parametrize("station_id", ["CP1", "a" * 48, "CP-1_x=y:z+w|v@u"])
def test_valid_station_ids(station_id):
    assert check_station_id(station_id) == station_id


@pytest.mark.parametrize("station_id", ["", "a" * 49, "CP.1", "CP*", "CP>", "CP 1", "CP/1",
                                        "CP\n", "CP\x00", "Ünïcode", "../etc"])
def test_invalid_station_ids(station_id):
    with pytest.raises(InvalidIdentifier):
        check_station_id(station_id)


@pytest.mark.parametrize("id_token", ["04A2B3C4D5", "a" * 36, "FLEET 7", "Müller-1"])
def test_valid_token_ids(id_token):
    assert check_token_id(id_token) == id_token


@pytest.mark.parametrize("id_token", ["", "a" * 37, " 04A2", "04A2 ", "04\tA2", "04A2\n",
                                      "\x00"])
def test_invalid_token_ids(id_token):
    with pytest.raises(InvalidIdentifier):
        check_token_id(id_token)


def test_a_checked_station_id_is_one_subject_token():
    subject = subjects.station_event(check_station_id("CP-1_x=y:z+w|v@u"), "MeterValues")
    assert subject.split(".") == ["cb", "station", "MeterValues", "CP-1_x=y:z+w|v@u"]


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3))
def test_kv_keys_use_only_kv_characters_and_never_collide(parts):
    key = kv_key(*parts)
    assert set(key) <= KV_KEY_CHARACTERS
    assert key.count(".") == len(parts) - 1


@given(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12))
def test_kv_key_escaping_is_injective(first, second):
    if first != second:
        assert kv_key(first) != kv_key(second)


def test_empty_key_parts_are_refused():
    with pytest.raises(InvalidIdentifier):
        kv_key("station", "")
