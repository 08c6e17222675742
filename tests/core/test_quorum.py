"""Quorum sizes: strict majority by default, explicit sizes for variants."""

from __future__ import annotations

import pytest

from paxos_exp.core.errors import ConfigError
from paxos_exp.core.quorum import Quorums, majority


@pytest.mark.parametrize(
    ("nodes", "size"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4), (9, 5), (10, 6)]
)
def test_majority_is_strictly_more_than_half(nodes, size):
    assert majority(nodes) == size
    assert size > nodes / 2 and size - 1 <= nodes / 2


@pytest.mark.parametrize(("nodes", "size"), [(1, 1), (2, 2), (3, 2), (4, 3)])
def test_default_quorums_are_majorities(nodes, size):
    assert Quorums.for_nodes(nodes) == Quorums(join=size, vote=size)


def test_n2_needs_both_and_n4_needs_three():
    assert Quorums.for_nodes(2).join == 2 and Quorums.for_nodes(2).vote == 2
    assert Quorums.for_nodes(4).join == 3 and Quorums.for_nodes(4).vote == 3


def test_any_two_majorities_intersect():
    for nodes in range(1, 12):
        assert 2 * majority(nodes) > nodes


def test_explicit_sizes_are_kept():
    assert Quorums.for_nodes(5, join=1, vote=5) == Quorums(join=1, vote=5)
    assert Quorums.for_nodes(5, vote=4) == Quorums(join=3, vote=4)
    assert Quorums.for_nodes(1, join=1, vote=1) == Quorums(1, 1)


@pytest.mark.parametrize(
    ("nodes", "join", "vote", "key"),
    [
        (3, 0, None, "protocol.join_quorum=0"),
        (3, 4, None, "protocol.join_quorum=4"),
        (3, -1, None, "protocol.join_quorum=-1"),
        (3, None, 0, "protocol.vote_quorum=0"),
        (3, None, 4, "protocol.vote_quorum=4"),
        (1, None, 2, "protocol.vote_quorum=2"),
        (0, None, None, "protocol.join_quorum=1"),  # no nodes: not even a majority exists
    ],
)
def test_impossible_sizes_raise_config_error_naming_the_key(nodes, join, vote, key):
    with pytest.raises(ConfigError) as error:
        Quorums.for_nodes(nodes, join, vote)
    assert key in str(error.value) and f"nodes={nodes}" in str(error.value)
