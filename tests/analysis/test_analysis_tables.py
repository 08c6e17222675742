"""A job's tables round trip: records written as Parquet and as CSV read back typed and equal;
a value its column cannot hold is one clear error; the rounds frame stays small per row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from paxos_exp.analysis.job import read_table, table_path
from paxos_exp.analysis.load import load
from paxos_exp.core.records import RoundRecord, TraceRecord, TrialRecord
from paxos_exp.schema import JobResult
from paxos_exp.results import (
    CSV,
    PARQUET,
    JobTables,
    ParquetTable,
    TableSizes,
    table_schema,
)

SIZES = TableSizes(nodes=3, rounds=2, trials=2)
# What a reader takes the job's sizes from (its result.json; CSV columns are typed by them).
DOCUMENT = JobResult(status="failed", config={"nodes": 3, "rounds": 2, "trials": 2,
                                              "fail_prob": 0.1})


def _round(trial: int, rnd: int, decided: bool, proposal: int | None) -> RoundRecord:
    return RoundRecord(trial=trial, round=rnd, leader=rnd % 3, joins=2, proposal=proposal,
                       votes=2 if decided else 0, decided=decided,
                       decision=proposal if decided else None, sent_start=2, sent_join=2,
                       sent_propose=0 if proposal is None else 2, sent_vote=2 if decided else 0,
                       sent_roundchange=0 if proposal is not None else 2, sent_crash=1,
                       crashed=1, silenced=0)


ROUNDS = [_round(0, 0, False, None), _round(0, 1, True, 1), _round(1, 0, True, 0),
          _round(1, 1, False, 0)]
TRIALS = [
    TrialRecord(trial=0, initial_values=(0, 1, 1), decided=True, first_decision_round=1,
                deciding_rounds=1, decision=1, agreement_ok=True, validity_ok=True,
                proposals_ok=True),
    TrialRecord(trial=1, initial_values=(0, 0, 0), decided=True, first_decision_round=0,
                deciding_rounds=1, decision=0, agreement_ok=True, validity_ok=True,
                proposals_ok=False),
]
TRACE = [TraceRecord(trial=0, round=0, phase=1, sender=0, receiver=2, kind="START",
                     body="START", crashed=False),
         TraceRecord(trial=1, round=1, phase=2, sender=2, receiver=0, kind="CRASH",
                     body="CRASH 0", crashed=True, silenced=False)]


def _write(directory: Path, formats: tuple[str, ...]) -> dict:
    tables = JobTables(directory, trace=True, formats=formats, sizes=SIZES)
    tables.add_rounds(ROUNDS[:2], TRACE[:1])
    tables.add_trial(TRIALS[0])
    tables.add_rounds(ROUNDS[2:], TRACE[1:])
    tables.add_trial(TRIALS[1])
    return tables.commit()


@pytest.mark.parametrize("fmt", [PARQUET, CSV])
def test_records_round_trip_typed(tmp_path: Path, fmt: str) -> None:
    entries = _write(tmp_path, (fmt,))
    assert {name: entry["rows"] for name, entry in entries.items()} == {
        f"trials.{fmt}": 2, f"rounds.{fmt}": 4, f"trace.{fmt}": 2}
    assert {entry["format"] for entry in entries.values()} == {fmt}
    rounds = read_table(tmp_path, "rounds", document=DOCUMENT)
    assert table_path(tmp_path, "rounds").suffix == f".{fmt}"
    assert rounds["decided"].dtype == bool
    assert str(rounds["proposal"].dtype) == "Int8" and str(rounds["decision"].dtype) == "Int8"
    assert [rounds[c].dtype.itemsize for c in ("trial", "round", "leader", "sent_crash")] == [1] * 4
    assert rounds["proposal"].tolist() == [pd.NA, 1, 0, 0]
    assert rounds["decision"].tolist() == [pd.NA, 1, 0, pd.NA]
    for record, (_, row) in zip(ROUNDS, rounds.iterrows()):
        for name in RoundRecord.__dataclass_fields__:
            value = getattr(record, name)
            assert (pd.isna(row[name]) if value is None else row[name] == value), name
    trials = read_table(tmp_path, "trials", document=DOCUMENT)
    # Initial values keep their leading zeros (text, not a number).
    assert list(trials["initial_values"].astype(str)) == ["011", "000"]
    assert trials["proposals_ok"].tolist() == [True, False]
    assert trials["first_decision_round"].tolist() == [1, 0]
    trace = read_table(tmp_path, "trace", document=DOCUMENT)
    assert isinstance(trace["kind"].dtype, pd.CategoricalDtype)
    assert list(trace["body"].astype(str)) == ["START", "CRASH 0"]
    assert trace["crashed"].tolist() == [False, True]


def test_both_formats_hold_the_same_rows(tmp_path: Path) -> None:
    _write(tmp_path / "both", (PARQUET, CSV))
    _write(tmp_path / "csv", (CSV,))
    for table in ("trials", "rounds", "trace"):
        # Parquet first when both exist
        from_parquet = read_table(tmp_path / "both", table, document=DOCUMENT)
        from_csv = read_table(tmp_path / "csv", table, document=DOCUMENT)
        pd.testing.assert_frame_equal(from_parquet, from_csv)
        # Without the job's sizes, CSV integers are read 32 bits wide: the same values.
        unsized = read_table(tmp_path / "csv", table)
        pd.testing.assert_frame_equal(from_csv, unsized, check_dtype=False)


def test_the_parquet_schema_is_stored_in_the_file(tmp_path: Path) -> None:
    _write(tmp_path, (PARQUET,))
    schema = pq.read_schema(tmp_path / "rounds.parquet")
    assert schema.equals(table_schema("rounds", SIZES))
    # Integers are sized by the job: N = 30000 needs 16 bits for node ids, 32 for counts.
    wide = table_schema("rounds", TableSizes(nodes=30_000, rounds=100_000, trials=10))
    assert (str(wide.field("leader").type), str(wide.field("sent_join").type),
            str(wide.field("round").type), str(wide.field("trial").type)) == (
        "int16", "int32", "int32", "int8")


def test_a_value_its_column_cannot_hold_is_one_clear_error(tmp_path: Path) -> None:
    table = ParquetTable(tmp_path / "rounds.parquet", table_schema("rounds", SIZES))
    try:
        bad = _round(0, 0, False, None)
        table.add([tuple(getattr(bad, name) if name != "leader" else 300
                         for name in bad.__dataclass_fields__)])
        with pytest.raises(ValueError, match="column leader cannot hold its values as int8"):
            table.flush()
    finally:
        table.discard()
    assert not list(tmp_path.iterdir())  # the temporary file is gone


def test_the_rounds_frame_is_small_per_row(tiny_sweep: Path) -> None:
    rounds = load([tiny_sweep], trials=False, rounds=True).rounds
    assert rounds is not None and len(rounds) == 360
    # Categorical configuration columns and 8-bit counts: about 36 bytes a row on a big
    # sweep (the fixed cost of each column's categories weighs more on this small one).
    # Before: 366 bytes a row (object strings and 64-bit numbers).
    per_row = rounds.memory_usage(index=False, deep=True).sum() / len(rounds)
    assert per_row < 64, per_row
    for column in ("job_key", "protocol", "faults", "nodes", "fail_prob", "rounds"):
        assert isinstance(rounds[column].dtype, pd.CategoricalDtype), column
