"""The checker's results as text lines (one per problem) and as JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from paxos_exp.check.checker import FileResult
from paxos_exp.check.problems import Problem

JSON_VERSION = 1


def problem_line(name: str, problem: Problem) -> str:
    """``FILE:LINE: RULE: explanation``, as compilers and linters print theirs."""
    return f"{name}:{problem.line}: {problem.rule}: {problem.message}"


def summary_line(results: Sequence[FileResult]) -> str:
    bad = [result for result in results if not result.ok]
    problems = sum(len(result.problems) for result in results)
    files = f"{len(results)} file" + ("" if len(results) == 1 else "s")
    if not bad:
        return f"paxos-check: {files} checked, no problems"
    return (f"paxos-check: {files} checked, {problems} problem{'s' if problems != 1 else ''} "
            f"in {len(bad)}")


def as_json(results: Sequence[FileResult], errors: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The whole check as one JSON-ready object (schema version :data:`JSON_VERSION`):

    ``{"version": 1, "ok": bool, "problems": int, "files": [{"file", "ok", "lines",
    "problems": [{"line", "rule", "round", "message"}], "runs": [{"line", "nodes",
    "fail_prob", "rounds", "rounds_seen", "initial_values", "decisions": [{"round", "value",
    "line"}]}], "error"}]}``; a file that could not be read has ``"error"`` set (else null).
    """
    files: list[dict[str, Any]] = []
    for result in results:
        files.append({
            "file": result.name,
            "ok": result.ok,
            "lines": result.lines,
            "problems": [
                {"line": problem.line, "rule": problem.rule, "round": problem.round,
                 "message": problem.message}
                for problem in result.problems
            ],
            "runs": [
                {"line": run.line, "nodes": run.nodes, "fail_prob": run.fail_prob,
                 "rounds": run.rounds, "rounds_seen": run.rounds_seen,
                 "initial_values": run.initial_values,
                 "decisions": [{"round": decided.round, "value": decided.value, "line": decided.line}
                               for decided in run.decisions]}
                for run in result.runs
            ],
            "error": None,
        })
    for name, error in errors:
        files.append({"file": name, "ok": False, "lines": 0, "problems": [], "runs": [],
                      "error": error})
    problems = sum(len(result.problems) for result in results)
    return {"version": JSON_VERSION, "ok": problems == 0 and not errors, "problems": problems,
            "files": files}
