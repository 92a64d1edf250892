"""The token endpoint's in-memory map (``socle_identity.cache.Snapshot``): entries live their
time and no longer, the map stays within its bound, and an invalidation wins over a load."""

from __future__ import annotations

from socle_identity.cache import Snapshot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_served_for_its_time_and_no_longer() -> None:
    clock = Clock()
    snapshot: Snapshot[str, str] = Snapshot(5, clock=clock)
    snapshot.put("erp", "record", snapshot.generation)
    clock.now += 4.9
    assert snapshot.get("erp") == "record"
    clock.now += 0.1
    assert snapshot.get("erp") is None


def test_a_full_map_drops_the_entry_closest_to_its_end() -> None:
    clock = Clock()
    snapshot: Snapshot[str, str] = Snapshot(5, max_entries=3, clock=clock)
    for key in ("a", "b", "c"):
        snapshot.put(key, key, snapshot.generation)
        clock.now += 1
    snapshot.put("a", "a again", snapshot.generation)  # read again: now the last to expire
    snapshot.put("d", "d", snapshot.generation)
    assert len(snapshot) == 3
    assert snapshot.get("b") is None
    assert [snapshot.get(k) for k in ("a", "c", "d")] == ["a again", "c", "d"]


def test_expired_entries_leave_before_fresh_ones() -> None:
    clock = Clock()
    snapshot: Snapshot[str, str] = Snapshot(5, max_entries=3, clock=clock)
    snapshot.put("old", "old", snapshot.generation)
    clock.now += 2
    snapshot.put("fresh", "fresh", snapshot.generation)
    clock.now += 3.5  # "old" is past its time, "fresh" is not
    snapshot.put("new", "new", snapshot.generation)
    snapshot.put("newer", "newer", snapshot.generation)
    assert len(snapshot) == 3
    assert [snapshot.get(k) for k in ("old", "fresh", "new", "newer")] == [
        None,
        "fresh",
        "new",
        "newer",
    ]


def test_a_load_that_began_before_an_invalidation_is_not_stored() -> None:
    snapshot: Snapshot[str, str] = Snapshot(5)
    generation = snapshot.generation  # a read starts
    snapshot.invalidate(["erp"])  # the client changes meanwhile
    snapshot.put("erp", "stale", generation)
    assert snapshot.get("erp") is None
    assert len(snapshot) == 0


def test_nothing_is_kept_when_the_time_is_zero() -> None:
    snapshot: Snapshot[str, str] = Snapshot(0)
    snapshot.put("erp", "record", snapshot.generation)
    assert snapshot.get("erp") is None
