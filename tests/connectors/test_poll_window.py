"""The live poll's watermark: pure rules, no services."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from connectors.engine.window import PollWindow

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_stamp_newer_than_the_polls_start_does_not_move_the_watermark_past_it():
    """A later page can show a record edited during the poll: its stamp must not carry the
    watermark past edits made meanwhile to records on pages already read."""
    window = PollWindow(T0, "", timedelta(seconds=5))
    window.begin(T0 + timedelta(seconds=10))
    window.mark_emitted("001A", T0 + timedelta(seconds=3), 1)
    assert window.modstamp == T0 + timedelta(seconds=3)
    window.mark_emitted("001B", T0 + timedelta(seconds=30), 1)  # edited after the poll began
    assert window.modstamp == T0 + timedelta(seconds=10)
    assert window.since() == T0 + timedelta(seconds=5)  # the next poll reads from before the ceiling


def test_the_version_read_past_the_ceiling_is_not_published_twice():
    window = PollWindow(T0, "", timedelta(seconds=5))
    window.begin(T0 + timedelta(seconds=10))
    window.mark_emitted("001B", T0 + timedelta(seconds=30), 1)
    window.prune()
    assert not window.is_new("001B", T0 + timedelta(seconds=30), 1)
    assert window.is_new("001B", T0 + timedelta(seconds=31), 1)


def test_a_second_edit_with_the_same_stamp_is_new():
    """Salesforce compares SystemModstamps to the second: an edit in the same second as the
    version already emitted may carry its stamp; what it holds tells them apart."""
    window = PollWindow(T0, "", timedelta(seconds=5))
    window.begin(T0 + timedelta(seconds=10))
    stamp = T0 + timedelta(seconds=3)
    window.mark_emitted("001A", stamp, hash(b'{"Id": "001A", "Name": "first"}'))
    assert not window.is_new("001A", stamp, hash(b'{"Id": "001A", "Name": "first"}'))
    assert window.is_new("001A", stamp, hash(b'{"Id": "001A", "Name": "second"}'))


def test_the_poll_window_rereads_the_lookback_but_emits_each_version_once():
    window = PollWindow(None, "", timedelta(seconds=5))
    assert window.since() is None
    window.mark_emitted("001A", T0, 0)
    window.mark_emitted("001B", T0, 0)
    assert window.since() == T0 - timedelta(seconds=5)
    assert not window.is_new("001A", T0, 0)
    assert window.is_new("001A", T0 + timedelta(seconds=1), 0), "a newer version of a seen record is new"
    assert window.is_new("001C", T0 - timedelta(seconds=1), 0), "a late commit with an older stamp is new"
    assert (window.modstamp, window.record_id) == (T0, "001B")


def test_the_poll_window_forgets_versions_older_than_the_lookback():
    window = PollWindow(None, "", timedelta(seconds=5))
    window.mark_emitted("001A", T0, 0)
    window.mark_emitted("001B", T0 + timedelta(seconds=10), 0)
    window.prune()
    assert window.is_new("001A", T0, 0)
    assert not window.is_new("001B", T0 + timedelta(seconds=10), 0)
