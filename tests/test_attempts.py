"""Failed password attempts: delays and lockouts per station id, late answers per
source address, on a clock the test moves."""
from chargebus.services.edge.attempts import FailedAttempts, GuessingLimits

LIMITS = GuessingLimits(free_failures=3, delay_seconds=1.0, max_delay_seconds=8.0,
                        lockout_failures=10, lockout_seconds=300.0,
                        address_free_failures=5, address_max_delay_seconds=4.0,
                        address_checks=2)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(attempts: FailedAttempts, station_id: str) -> bool:
    assert attempts.wait(station_id) == 0
    attempts.start_check(station_id)
    attempts.end_check(station_id)
    return attempts.failed(station_id)


def test_the_wait_doubles_after_the_free_failures_up_to_the_max():
    clock = Clock()
    attempts = FailedAttempts(LIMITS, clock)
    waits = []
    for _ in range(9):
        assert not fail(attempts, "CP-1")
        waits.append(attempts.wait("CP-1"))
        clock.now += waits[-1]
    assert waits == [0, 0, 1, 2, 4, 8, 8, 8, 8]
    assert attempts.failures("CP-1") == 9 and not attempts.locked_out("CP-1")


def test_a_station_that_must_wait_is_not_checked_before_its_time():
    clock = Clock()
    attempts = FailedAttempts(LIMITS, clock)
    for _ in range(4):
        clock.now += attempts.wait("CP-1")
        fail(attempts, "CP-1")
    clock.now += 1.5
    assert attempts.wait("CP-1") == 0.5  # 2 s after the 4th failure


def test_the_lockout_refuses_until_it_ends_then_the_failures_are_forgotten():
    clock = Clock()
    attempts = FailedAttempts(LIMITS, clock)
    locked = []
    for _ in range(10):
        clock.now += attempts.wait("CP-1")
        locked.append(fail(attempts, "CP-1"))
    assert locked == [False] * 9 + [True]
    assert attempts.locked_out("CP-1") and attempts.wait("CP-1") == 300
    clock.now += 299
    assert attempts.locked_out("CP-1") and attempts.wait("CP-1") == 1
    clock.now += 1
    assert not attempts.locked_out("CP-1")
    assert attempts.wait("CP-1") == 0 and attempts.failures("CP-1") == 0


def test_a_right_password_forgets_the_failures():
    clock = Clock()
    attempts = FailedAttempts(LIMITS, clock)
    for _ in range(5):
        clock.now += attempts.wait("CP-1")
        fail(attempts, "CP-1")
    attempts.succeeded("CP-1")
    assert attempts.failures("CP-1") == 0 and attempts.wait("CP-1") == 0


def test_a_check_under_way_makes_another_of_the_same_id_wait():
    attempts = FailedAttempts(LIMITS, Clock())
    attempts.start_check("CP-1")
    assert attempts.wait("CP-1") == LIMITS.delay_seconds
    assert attempts.wait("CP-2") == 0
    attempts.end_check("CP-1")
    assert attempts.wait("CP-1") == 0


def test_failures_are_forgotten_a_lockout_after_the_last():
    clock = Clock()
    attempts = FailedAttempts(LIMITS, clock)
    for _ in range(3):
        fail(attempts, "CP-1")
    clock.now += 300
    assert attempts.failures("CP-1") == 0


def test_an_address_is_never_refused_only_held():
    clock = Clock()
    attempts = FailedAttempts(LIMITS, clock)
    delays = []
    for _ in range(10):
        delays.append(attempts.address_delay("192.0.2.7"))
        attempts.refused_from("192.0.2.7")
    assert delays == [0, 0, 0, 0, 0, 1, 2, 4, 4, 4]
    assert attempts.address_delay("192.0.2.8") == 0  # a neighbour is not slowed
    for station in ("SITE-1", "SITE-2"):  # its stations' ids have no failures
        assert attempts.wait(station) == 0
    clock.now += 300
    assert attempts.address_delay("192.0.2.7") == 0


def test_ipv6_addresses_count_by_their_64_block_and_mapped_ipv4_as_ipv4():
    attempts = FailedAttempts(LIMITS, Clock())
    for host in range(5):
        attempts.refused_from(f"2001:db8:1:2::{host + 1}")
    assert attempts.address_delay("2001:db8:1:2:ffff::9") == 1
    assert attempts.address_delay("2001:db8:1:3::1") == 0
    for _ in range(5):
        attempts.refused_from("::ffff:192.0.2.9")
    assert attempts.address_delay("192.0.2.9") == 1


def test_records_are_bounded_the_least_recently_failed_dropped_first():
    clock = Clock()
    attempts = FailedAttempts(LIMITS, clock, records_kept=3)
    for station in ("A", "B", "C"):
        fail(attempts, station)
        clock.now += 1
    fail(attempts, "A")  # now the most recent
    fail(attempts, "D")
    assert [attempts.failures(s) for s in ("A", "B", "C", "D")] == [2, 0, 1, 1]
