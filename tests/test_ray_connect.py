"""Tests of core/sweeps/ray_connect.py that need no Ray: which cluster addresses the Sweeps page accepts."""

from __future__ import annotations

import pytest

from core.sweeps.ray_connect import check_address


@pytest.mark.parametrize("typed, address", [
    ("", None), ("   ", None), (None, None), ("head:6379", "head:6379"),
    (" head-1.lab.example:6379 ", "head-1.lab.example:6379"),
    ("ray://head:10001", "ray://head:10001"), ("10.0.0.7:6379", "10.0.0.7:6379"), ("[::1]:6379", "[::1]:6379"),
    ("auto", "auto"), (" auto ", "auto"),
])
def test_cluster_addresses_are_accepted_as_typed(typed, address):
    """Check HOST:PORT, ray://HOST:PORT and auto are accepted (trimmed) and empty means a new local instance."""
    assert check_address(typed) == address


@pytest.mark.parametrize("typed", ["**bold** <script>x</script>:1", "head", "head:0", "head:65536", "ray://head",
                                   "Auto", "auto:6379:1", "head:6379/path", "-head:6379", "head name:6379",
                                   "x" * 400 + ":1"])
def test_other_addresses_are_refused_naming_the_field_and_what_is_allowed(typed):
    """Check anything else is refused with one line naming the field, the value and what is allowed."""
    shown = repr(typed) if len(typed) <= 60 else repr(typed[:59] + "…")
    with pytest.raises(ValueError) as caught:
        check_address(typed)
    assert str(caught.value) == (f"Ray address {shown} is not allowed; use HOST:PORT or ray://HOST:PORT "
                                 "(a port from 1 to 65535) or auto, or leave it empty for a new Ray instance on "
                                 "this machine")


@pytest.mark.parametrize("typed", ["http://head:8265", "HTTPS://head:8265"])
def test_a_dashboard_address_is_told_what_to_use_instead(typed):
    """Check a Ray dashboard (Jobs API) address is refused with what to type instead."""
    with pytest.raises(ValueError, match=r"is Ray's dashboard \(Jobs API\), which sweeps do not use; give the "
                                         r"cluster's head as HOST:PORT \(port 6379 by default\)"):
        check_address(typed)
