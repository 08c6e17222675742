"""A job's Parquet columns are built from NumPy buffers (``pa.array`` on a Python sequence
imports pandas, a third of a small job's CPU): the same Arrow arrays as ``pa.array``."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxos_exp.results import _TEXT, _arrow_column, _arrow_rows

INTS = [(pa.int8(), 7), (pa.int16(), 15), (pa.int32(), 31), (pa.int64(), 63)]


def _same_as_pa_array(values: tuple, kind: pa.DataType) -> None:
    built = _arrow_column(values, kind)
    built.validate(full=True)
    reference = pa.array(values, type=kind)
    assert built.type == reference.type and built.equals(reference), (values, kind)


@pytest.mark.parametrize("kind, bits", INTS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_integer_columns_with_and_without_nulls_equal_pa_array(kind, bits, data):
    value = st.integers(-(1 << bits), (1 << bits) - 1)
    values = data.draw(st.lists(st.none() | value if data.draw(st.booleans()) else value,
                                max_size=300))
    _same_as_pa_array(tuple(values), kind)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.booleans(), max_size=300))
def test_bool_columns_equal_pa_array(values):
    _same_as_pa_array(tuple(values), pa.bool_())


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.sampled_from(["JOIN", "PROPOSE", "CRASH 2", "0110", "", "é"]) | st.text(max_size=5),
                       max_size=300))
def test_text_columns_equal_pa_array(values):
    _same_as_pa_array(tuple(values), _TEXT)


@pytest.mark.parametrize("values, kind", [
    ((1, 300), pa.int8()), ((1.5, 2), pa.int8()), ((True, 2), pa.int8()), ((1 << 70,), pa.int64()),
    ((1, None), pa.bool_()), (("a", None), _TEXT), ((), pa.int8()), ((), pa.bool_()),
])
def test_values_outside_the_fast_path_behave_as_pa_array(values, kind):
    try:
        expected = pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        with pytest.raises(type(error)):
            _arrow_column(values, kind)
    else:
        assert _arrow_column(values, kind).equals(expected)


def test_an_out_of_range_value_names_its_column():
    schema = pa.schema([pa.field("leader", pa.int8())])
    with pytest.raises(ValueError, match="column leader cannot hold its values as int8"):
        _arrow_rows([(1,), (300,)], schema)


def test_a_job_that_writes_its_tables_does_not_import_pandas(tmp_path):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from paxos_exp.core.config import RunConfig, RuntimeOptions\n"
        "from paxos_exp.results import JobTables, TableSizes\n"
        "from paxos_exp.runtime.api import stream_config\n"
        "config = RunConfig(3, 0.3, 2, trials=20, trace=True, initial_values=(0, 1, 1))\n"
        "tables = JobTables(Path(sys.argv[1]), trace=True, sizes=TableSizes.of(config))\n"
        "stream_config(config, RuntimeOptions(engine='inprocess'), tables)\n"
        "tables.commit()\n"
        "print(sorted(p.name for p in Path(sys.argv[1]).iterdir()), 'pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "False", done.stdout
    assert "rounds.parquet" in done.stdout and "trace.parquet" in done.stdout
