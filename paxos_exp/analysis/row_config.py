"""A report row's configuration, rebuilt from its columns: nodes, fail_prob, rounds,
initial_values, the protocol and fault model names (``omission+partition`` for a composition)
and every setting of theirs, which :func:`paxos_exp.analysis.job.flatten_config` made columns
(a setting's leaf name, or ``group_leaf`` when the leaf was taken). The settings' columns are
found from the registries' Params, so a new plug-in's settings are found too."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import typing
from collections.abc import Mapping
from typing import Any

from paxos_exp.core.config import (
    RunConfig,
    canonical_fail_prob,
    parse_initial_values,
    round_law,
)
from paxos_exp.core.errors import ConfigError, PaxosExpError
from paxos_exp.core.faults import DEFAULT_FAULTS, FAULTS
from paxos_exp.core.protocols import DEFAULT_PROTOCOL, PROTOCOLS
from paxos_exp.core.quorum import Quorums
from paxos_exp.core.theory import RoundLaw


# How a missing value reads once a grouping made a mixed column text (``aggregate._sortable``:
# a setting of one model is NaN in the rows of another).
_MISSING_TEXT = frozenset({"nan", "None", "<NA>", "NaN"})


def missing(value: Any) -> bool:
    if value is None or (isinstance(value, str) and value in _MISSING_TEXT):
        return True
    try:
        return bool(value != value)  # NaN, pandas' NA
    except (TypeError, ValueError):
        return False


def plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def _setting(value: Any, annotation: str) -> Any:
    """A frame's spelling of a plug-in setting as the plug-in's Params take it."""
    value = plain(value)
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    if isinstance(value, str) and "bool" in annotation and value in ("True", "False"):
        return value == "True"  # a bool column made text beside another model's rows
    if isinstance(value, float) and value.is_integer() and "int" in annotation \
            and "float" not in annotation:
        return int(value)
    return value


def plugin_columns(group: str, params: type) -> dict[str, tuple[str, ...]]:
    """Each setting of a plug-in: the columns that may hold it (``group_leaf`` first)."""
    if not dataclasses.is_dataclass(params):
        return {}
    return {field.name: (f"{group}_{field.name}", field.name)
            for field in dataclasses.fields(params)}


@functools.cache
def setting_columns() -> tuple[str, ...]:
    """Every column a registered protocol's or fault model's setting may be read from."""
    columns: list[str] = []
    for group, registry in (("protocol", PROTOCOLS), ("faults", FAULTS)):
        for name in registry.names():
            for spellings in plugin_columns(group, registry.get(name).params).values():
                columns.extend(column for column in spellings if column not in columns)
    return tuple(columns)


class RowError(PaxosExpError):
    """A row's configuration cannot be rebuilt (the message says why)."""


def _plugin(group: str, name: str, row: Mapping[str, Any]) -> dict[str, Any]:
    registry = PROTOCOLS if group == "protocol" else FAULTS
    params = registry.get(name).params
    hints = typing.get_type_hints(params) if dataclasses.is_dataclass(params) else {}
    spec: dict[str, Any] = {"name": name}
    for setting, spellings in plugin_columns(group, params).items():
        for column in spellings:
            if column in row and not missing(row[column]):
                spec[setting] = _setting(row[column], str(hints.get(setting, "")))
                break
        else:
            if any(column in row for column in spellings):
                # Present but missing: unset (null) or varying within the row's group; the
                # group tells which (``_settings_vary``); here it means unset.
                spec[setting] = None
    return spec


def row_config(row: Mapping[str, Any]) -> RunConfig:
    """The configuration a row measures (one trial, seed 0: the law does not depend on
    them); raises RowError when it cannot be rebuilt."""
    for key in ("nodes", "fail_prob", "rounds"):
        if key not in row or missing(row[key]):
            raise RowError(f"{key} varies within the row")
    protocol = str(plain(row.get("protocol")) or DEFAULT_PROTOCOL)
    faults = str(plain(row.get("faults")) or DEFAULT_FAULTS)
    initial = row.get("initial_values")
    try:
        given = None if missing(initial) else parse_initial_values(str(plain(initial)))
        protocol_spec = _plugin("protocol", protocol, row)
        fault_specs = [_plugin("faults", name, row) for name in faults.split("+")]
        names = [setting for spec in fault_specs for setting in spec if setting != "name"]
        if len(names) != len(set(names)):
            raise RowError(f"the fault models {faults} share a setting's name: its column "
                           "holds one of them")
        for spec in (protocol_spec, *fault_specs):
            for setting in [s for s, value in spec.items() if value is None]:
                del spec[setting]  # unset: the plug-in's default
        return RunConfig(
            nodes=int(plain(row["nodes"])),
            fail_prob=canonical_fail_prob(float(plain(row["fail_prob"]))),
            rounds=int(plain(row["rounds"])), initial_values=given,
            protocol=protocol_spec if len(protocol_spec) > 1 else protocol,
            faults=fault_specs if len(fault_specs) > 1 else fault_specs[0])
    except (PaxosExpError, TypeError, ValueError, KeyError) as error:
        if isinstance(error, RowError):
            raise
        raise RowError(str(error).splitlines()[0] if str(error) else type(error).__name__
                       ) from None


def config_key(config: RunConfig) -> str:
    """The cache key of a configuration: its spec without seed and trials."""
    spec = config.spec()
    for key in ("seed", "trials", "trace", "safety"):
        spec.pop(key, None)
    return json.dumps(spec, sort_keys=True, default=str)




def _quorum(value: Any) -> int | None:
    return None if missing(value) else int(plain(value))


def row_law(row: Mapping[str, Any]) -> RoundLaw | None:
    """The closed-form round law of a row's configuration, from core (its protocol, fault
    model, node count, crash probability and quorum sizes, read from their columns); None
    where there is none."""
    nodes = int(plain(row["nodes"]))
    try:
        quorums = Quorums.for_nodes(nodes, _quorum(row.get("join_quorum")),
                                    _quorum(row.get("vote_quorum")))
        return round_law(str(plain(row.get("protocol")) or DEFAULT_PROTOCOL),
                         str(plain(row.get("faults")) or DEFAULT_FAULTS), nodes,
                         float(plain(row["fail_prob"])), quorums)
    except ConfigError:  # a plug-in this installation does not have: no theory
        return None
