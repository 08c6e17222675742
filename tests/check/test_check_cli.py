"""``paxos-check`` as users and scripts call it: files and standard input, one line per
problem, ``--json``, exit statuses, and one clear line for input it cannot check."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_check_rules import BASE, edit

from paxos_exp.check import RULES
from paxos_exp.check.cli import main

BROKEN = edit(BASE, replace={39: "LEADER OF 3 RECEIVED IN JOIN PHASE: JOIN 1 1"})
PROBLEM_LINE = re.compile(r"(?P<file>.+):(?P<line>\d+): (?P<rule>[a-z-]+): (?P<message>.+)")


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"good": BASE, "broken": BROKEN, "text": "hello\nworld\n"}
    out = {}
    for name, text in paths.items():
        out[name] = tmp_path / f"{name}.txt"
        out[name].write_text(text)
    out["binary"] = tmp_path / "binary.txt"
    out["binary"].write_bytes(b"\x7fELF\x00\x01\x02\n\x00")
    return out


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_a_good_transcript_prints_nothing_and_exits_0(files, capsys):
    assert main(["transcript", str(files["good"])]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")


def test_each_problem_is_one_line_naming_file_line_and_rule(files, capsys):
    assert main(["transcript", str(files["broken"])]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1
    found = PROBLEM_LINE.fullmatch(lines[0])
    assert found and (found["file"], found["line"], found["rule"]) == (str(files["broken"]), "39", "join-state")
    assert err == "paxos-check: 1 file checked, 1 problem in 1\n"


def test_several_files_each_problem_named_by_its_file(files, capsys):
    assert main(["transcript", str(files["good"]), str(files["broken"]), str(files["good"])]) == 1
    out, err = capsys.readouterr()
    assert [PROBLEM_LINE.fullmatch(line)["file"] for line in out.splitlines()] == [str(files["broken"])]
    assert "3 files checked, 1 problem in 1" in err


@pytest.mark.parametrize("argv", [["transcript"], ["transcript", "-"]])
def test_standard_input(argv, monkeypatch, capsys):
    _stdin(monkeypatch, BROKEN)
    assert main(argv) == 1
    assert capsys.readouterr().out.startswith("<stdin>:39: join-state: ")
    _stdin(monkeypatch, BASE)
    assert main(argv) == 0


@pytest.mark.parametrize("name", ["text", "binary"])
def test_a_file_that_is_not_a_transcript_is_one_clear_line(files, name, capsys):
    assert main(["transcript", str(files[name])]) == 1
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1 and ": not-a-transcript: " in lines[0]
    assert "transcript" in lines[0].split("not-a-transcript: ")[1]


def test_a_file_that_cannot_be_read_is_one_line_on_stderr_and_exit_2(files, tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    assert main(["transcript", str(missing), str(files["broken"])]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines()[0] == f"paxos-check: error: cannot read {missing}: No such file or directory"
    assert ": join-state: " in out  # the readable file was still checked


@pytest.mark.parametrize("argv", [[], ["transcript", "--nodes", "0"], ["transcript", "--join-quorum", "x"],
                                  ["transcripts"]])
def test_bad_arguments_are_a_usage_message_and_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: paxos-check")


def test_a_quorum_larger_than_the_run_is_one_line_and_exit_2(files, capsys):
    assert main(["transcript", "--vote-quorum", "4", str(files["good"])]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"paxos-check: error: {files['good']}: --vote-quorum 4 does not fit a run of 3 "
                   "nodes: give a size from 1 to 3\n")


def test_nodes_checks_a_transcript_without_header(files, tmp_path, capsys):
    headerless = tmp_path / "headerless.txt"
    headerless.write_text(edit(BASE, delete=(1,)))
    assert main(["transcript", str(headerless)]) == 1
    assert "pass --nodes N" in capsys.readouterr().out
    headerless.write_text(edit(BROKEN, delete=(1,)))
    assert main(["transcript", "--nodes", "3", str(headerless)]) == 1
    rules = [PROBLEM_LINE.fullmatch(line)["rule"] for line in capsys.readouterr().out.splitlines()]
    assert rules == ["header", "join-state"]


def test_json_for_scripts(files, tmp_path, capsys):
    assert main(["transcript", "--json", str(files["good"]), str(files["broken"]),
                 str(tmp_path / "nope.txt")]) == 2
    out, _ = capsys.readouterr()
    report = json.loads(out)
    assert report["version"] == 1 and report["ok"] is False and report["problems"] == 1
    good, broken, missing = report["files"]
    assert set(good) == {"file", "ok", "lines", "problems", "runs", "error"}
    assert (good["file"], good["ok"], good["lines"], good["problems"], good["error"]) == \
        (str(files["good"]), True, 46, [], None)
    run, = good["runs"]
    assert run == {"line": 1, "nodes": 3, "fail_prob": 0.3, "rounds": 4, "rounds_seen": 4,
                   "initial_values": [1, 1, 0],
                   "decisions": [{"round": 0, "value": 1, "line": 13},
                                 {"round": 2, "value": 1, "line": 34},
                                 {"round": 3, "value": 1, "line": 46}]}
    problem, = broken["problems"]
    assert set(problem) == {"line", "rule", "round", "message"}
    assert (problem["line"], problem["rule"], problem["round"]) == (39, "join-state", 3)
    assert broken["ok"] is False
    assert missing["error"] == "No such file or directory" and missing["ok"] is False


def test_json_of_a_clean_check_says_ok_and_exits_0(files, capsys):
    assert main(["transcript", "--json", str(files["good"])]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_rules_lists_every_rule(capsys):
    assert main(["rules"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(RULES)


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert "transcript" in help_text and "rules" in help_text


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / "paxos-check"
    assert script.exists(), "reinstall: pip install -e '.[test]' (pyproject.toml lists paxos-check)"
    done = subprocess.run([str(script), "rules"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "value-rule" in done.stdout


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    many = tmp_path / "many.txt"
    many.write_text("".join(f"noise {number}\n" for number in range(20_000)) + BASE)
    check = subprocess.Popen([sys.executable, "-m", "paxos_exp.check", "transcript", str(many)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert check.stdout is not None and check.stderr is not None
    first = check.stdout.readline()
    check.stdout.close()  # like `| head -1`
    err = check.stderr.read().decode()
    check.stderr.close()
    assert check.wait(timeout=60) == 1
    assert first.startswith(str(many).encode() + b":1: syntax: ")
    assert "Traceback" not in err
