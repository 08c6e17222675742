"""``paxos-check exhaustive``: every fault pattern of a configuration, a safety proof or a
minimal counterexample, and the exact probabilities. ``paxos_exp.check.cli`` parses the
arguments and calls :func:`run` (lazily: the transcript checker never imports the core)."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from paxos_exp.core.config import RunConfig, parse_initial_values
from paxos_exp.core.errors import ConfigError, PaxosExpError
from paxos_exp.explore.explorer import HALF_AVAILABLE, Budget, Exploration, TooLarge, Witness
from paxos_exp.explore.fault_events import as_dict as fault_dict, text as fault_text
from paxos_exp.explore.minimal import search

# Exit statuses: safe, a counterexample, bad settings, the exploration ran out of its budget
# (--max-states / --max-seconds / --max-memory) or of the process's memory, interrupted
# (Ctrl-C: 128 + SIGINT, as a shell reports it).
# An interrupted exploration (its traceback holds every configuration), kept so that freeing
# it is left to the process's exit.
ABANDONED: list[BaseException] = []
EXIT_SAFE, EXIT_COUNTEREXAMPLE, EXIT_USAGE, EXIT_TOO_LARGE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_FAIL_PROB = 0.1
_TOP = ("nodes", "rounds", "fail_prob", "initial_values", "protocol", "faults")


class UsageError(ValueError):
    """A setting that cannot run: one line for the user."""


def _value(text: str) -> Any:
    """A setting's value as YAML reads it (numbers, true/false, null, [lists])."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _fault_names(text: str) -> list[str]:
    """``omission``, ``[omission,crash_stop]`` or ``omission+crash_stop``: the models' names."""
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    names = [name.strip() for name in inner.replace("+", ",").split(",") if name.strip()]
    if not names:
        raise UsageError(f"faults={text}: name a fault model, or several as [omission,crash_stop]")
    return names


def _faults_given(text: str, settings: dict[str, Any]) -> Any:
    """The faults of the run: one model (settings as ``faults.KEY`` or ``faults.NAME.KEY``)
    or several (settings as ``faults.NAME.KEY``)."""
    names = _fault_names(text)
    own: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in settings.items():
        name, dot, rest = key.partition(".")
        if dot and name in own:
            own[name][rest] = value
        elif len(names) == 1 and not dot:
            own[names[0]][key] = value
        else:
            raise UsageError(f"faults.{key}: not a setting of the chosen fault models; write "
                             f"faults.NAME.KEY with NAME one of {', '.join(names)}")
    chosen = [{"name": name, **own[name]} for name in names]
    return chosen[0] if len(chosen) == 1 else chosen


def parse_settings(settings: Sequence[str]) -> RunConfig:
    """``key=value`` settings (``protocol.*``, ``faults.*`` for a plug-in's own) into a
    validated run config; UsageError with one line otherwise."""
    top: dict[str, Any] = {}
    plugin: dict[str, dict[str, Any]] = {"protocol": {}, "faults": {}}
    for setting in settings:
        key, sep, text = setting.partition("=")
        if not sep or not key:
            raise UsageError(f"{setting!r}: write settings as key=value, such as nodes=3")
        group, dot, name = key.partition(".")
        if dot and group in plugin and name:
            plugin[group][name] = _value(text)
        elif key in _TOP:
            top[key] = text if key in ("protocol", "faults", "initial_values") else _value(text)
        else:
            raise UsageError(f"{key}: no such setting; use {', '.join(_TOP)}, protocol.* "
                             "or faults.*")
    for needed in ("nodes", "rounds"):
        if needed not in top:
            raise UsageError(f"give {needed}=..., such as nodes=3 rounds=2")
    try:
        return RunConfig(
            nodes=top["nodes"], rounds=top["rounds"],
            fail_prob=top.get("fail_prob", DEFAULT_FAIL_PROB),
            initial_values=parse_initial_values(top.get("initial_values")),
            protocol={"name": top.get("protocol", "classic"), **plugin["protocol"]},
            faults=_faults_given(str(top.get("faults", "omission")), plugin["faults"]),
            safety="record",
        )
    except (ConfigError, TypeError) as error:
        raise UsageError(str(error).splitlines()[0]) from None


def _number(value: Any) -> Any:
    return float(value)


def probabilities(found: Exploration) -> dict[str, Any]:
    rounds = found.config.rounds
    within = [sum(found.first[:k + 1], 0 * found.violation) for k in range(rounds)]
    data: dict[str, Any] = {
        "round_decides": [_number(p) for p in found.decides],
        "first_decision_round": [_number(p) for p in found.first],
        "no_decision": _number(found.undecided),
        "decided_within": [_number(p) for p in within],
        "violation": _number(found.violation),
        "broken": {name: _number(p) for name, p in found.broken.items()},
    }
    if isinstance(found.violation, Fraction):
        data["exact"] = {
            "round_decides": [str(p) for p in found.decides],
            "first_decision_round": [str(p) for p in found.first],
            "no_decision": str(found.undecided),
            "violation": str(found.violation),
        }
    return data


def _witness_text(replayed: Any) -> list[str]:
    """The faults of a witness as events, in words (each fault model describes its draws)."""
    return [f"  {fault_text(event)}" for event in replayed.faults] or ["  (no fault at all)"]


def _intensities(config: RunConfig) -> str:
    """The chosen fault models' intensities (``crash_prob=0.1``), as each model declares it:
    ``fail_prob`` only where a model reads it."""
    from paxos_exp.core.faults import FAULTS

    shown = []
    for choice in config.fault_choices:
        intensity = FAULTS.get(choice.name).intensity
        if intensity is None:
            continue
        value = (config.fail_prob if intensity.setting == "fail_prob"
                 else getattr(choice.params, intensity.setting, None))
        if value is not None and f"{intensity.setting}={value}" not in shown:
            shown.append(f"{intensity.setting}={value}")
    return ", ".join(shown) or f"fail_prob={config.fail_prob}"


def _describe(config: RunConfig) -> str:
    values = ("all 2^N vectors, as fair coins" if config.initial_values is None
              else "".join(map(str, config.initial_values)))
    return (f"protocol={config.protocol.as_dict()} faults={config.faults.as_dict()} "  # type: ignore[union-attr]
            f"nodes={config.nodes} rounds={config.rounds} fail_prob={config.fail_prob} "
            f"initial values: {values}")


def run(settings: Sequence[str], as_json: bool = False, exact: bool = False,
        jsonl: str | None = None, shiviz: str | None = None, diagram: str | None = None,
        replay_processes: bool = False, max_states: int | None = None,
        max_seconds: float | None = None, max_memory: float | None = None) -> int:
    """The subcommand: exit 0 safe, 1 counterexample, 2 usage error, 3 too large for the
    budget (``max_states`` configurations run through a step, ``max_seconds`` CPU seconds,
    None or inf: no limit; ``max_memory`` MB of growth of the process's resident memory,
    None: half the memory available to the process as an exploration begins, inf: no
    limit) or for the process's memory (a MemoryError), 130 interrupted; every error is one
    line on stderr."""
    try:
        return _run(settings, as_json, exact, jsonl, shiviz, diagram, replay_processes,
                    max_states, max_seconds, max_memory)
    except KeyboardInterrupt as interrupt:
        print("paxos-check exhaustive: interrupted", file=sys.stderr)
        # Freeing a large exploration takes seconds; the command-line entry point exits
        # without freeing it (see ``paxos_exp.check.cli.main``), so it is kept until then.
        ABANDONED[:] = [interrupt]
        return EXIT_INTERRUPTED


def _too_large(error: TooLarge | MemoryError, config: RunConfig, max_states: int | None,
               max_seconds: float | None, spent: float) -> str:
    """The budget's one line, with what to lower or raise; a MemoryError: the process met its
    own limit before the memory budget ran out (--max-memory above what the process may have)."""
    if isinstance(error, MemoryError):
        return ("the process ran out of memory before the memory budget did "
                f"(nodes={config.nodes} rounds={config.rounds}); lower nodes or rounds, or "
                "set --max-memory below the memory this process may use")
    if error.resource == "memory":
        raise_it = "--max-memory (inf: no limit)"
    elif max_seconds is not None and spent >= max_seconds or max_states is None:
        raise_it = "--max-seconds (inf: no limit)"
    else:
        raise_it = "--max-states (or leave it out: no limit)"
    what = str(error).splitlines()[0].removeprefix("exploration too large: ")
    return (f"{what} (nodes={config.nodes} rounds={config.rounds}); "
            f"lower nodes or rounds, or raise {raise_it}")


def _run(settings: Sequence[str], as_json: bool, exact: bool, jsonl: str | None,
         shiviz: str | None, diagram: str | None, replay_processes: bool,
         max_states: int | None, max_seconds: float | None, max_memory: float | None) -> int:
    try:
        config = parse_settings(settings)
    except UsageError as error:
        print(f"paxos-check exhaustive: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    budget = Budget(states=max_states,
                    seconds=None if max_seconds == float("inf") else max_seconds,
                    memory_mb=HALF_AVAILABLE if max_memory is None
                    else None if max_memory == float("inf") else max_memory)
    began = time.process_time()
    try:
        found = search(config, exact=exact, budget=budget)
    except (TooLarge, MemoryError) as error:
        line = _too_large(error, config, max_states, max_seconds, time.process_time() - began)
        if as_json:  # a reader of --json gets a verdict too
            print(json.dumps({"verdict": "too_large", "error": line}))
        print(f"paxos-check exhaustive: too large: {line}", file=sys.stderr)
        return EXIT_TOO_LARGE
    except PaxosExpError as error:  # a fault model or protocol the explorer cannot follow
        print(f"paxos-check exhaustive: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE
    main = found.exploration
    result: dict[str, Any] = {
        "verdict": "safe" if found.witness is None else "counterexample",
        "config": {key: value for key, value in config.spec().items()
                   if key not in ("trials", "seed", "safety", "trace")},
        "patterns": main.patterns,
        "initial_vectors": main.vectors,
        "distinct_states": main.distinct_states,
        "states_per_round": main.states,
        "configurations": main.configurations,
        "cpu_seconds": round(main.seconds, 3),
        "probabilities": probabilities(main),
        "counterexample": None,
        "minimal_search": "complete" if found.incomplete is None else found.incomplete,
    }
    text: list[str] = []
    if found.witness is None:
        text.append(f"safe: every one of {main.patterns} fault patterns "
                    f"({main.distinct_states} distinct states) keeps agreement and validity")
        text.append(f"  {_describe(config)}")
    else:
        witness = found.witness
        from paxos_exp.explore import export
        from paxos_exp.explore.replay import replay

        replayed = replay(config, witness, "inprocess")
        engines = {"inprocess": list(replayed.broken)}
        if replay_processes:
            engines["processes"] = list(replay(config, witness, "processes").broken)
        result["counterexample"] = {
            "faults": witness.faults, "nodes": witness.nodes, "rounds": witness.rounds,
            "initial_values": "".join(map(str, witness.values)),
            "broken": list(witness.broken),
            "choices": [[*position, answer] for position, answer in witness.choices],
            "fault_events": [fault_dict(event, witness.choices) for event in replayed.faults],
            "transcript": replayed.lines,
            "events": list(export.events(replayed)),
            "replayed_on": engines,
        }
        text.append(f"counterexample: {', '.join(witness.broken)} broken with "
                    f"{witness.faults} fault{'s' if witness.faults != 1 else ''} at "
                    f"N={witness.nodes}, R={witness.rounds}, initial values "
                    f"{''.join(map(str, witness.values))} (the fewest faults, then the "
                    "smallest N and R)")
        text.append(f"  searched: {_describe(config)}")
        if found.incomplete is not None:
            text.append(f"  not minimal over every smaller N: {found.incomplete}")
        text.append("faults:")
        text.extend(_witness_text(replayed))
        text.append("transcript:")
        text.extend(f"  {line}" for line in replayed.lines)
        text.append("diagram:")
        text.extend(export.diagram(replayed))
        text.append("replayed on: " + "; ".join(
            f"{engine} ({', '.join(broken) or 'nothing'} broken)"
            for engine, broken in engines.items()))
        if jsonl or shiviz:
            from paxos_exp.analysis.files import write_text_atomic  # never half a file

            if jsonl:
                write_text_atomic(Path(jsonl), export.jsonl(replayed))
            if shiviz:
                write_text_atomic(Path(shiviz), export.shiviz(replayed))
        if diagram:
            _draw(replayed, witness, diagram)
    p = result["probabilities"]
    text.append(f"exact probabilities at {_intensities(config)} over every pattern "
                f"({main.vectors} initial vector{'s' if main.vectors != 1 else ''}):")
    text.append("  round r decides: " + ", ".join(f"{x:.12g}" for x in p["round_decides"]))
    text.append("  first decision in round r: "
                + ", ".join(f"{x:.12g}" for x in p["first_decision_round"])
                + f"; none within R: {p['no_decision']:.12g}")
    text.append(f"  at least one decision within R: "
                f"{(p['decided_within'] or [0.0])[-1]:.12g}; a violation: {p['violation']:.12g}")
    if "exact" in p:
        text.append("  as fractions: " + json.dumps(p["exact"]))
    text.append(f"explored: {main.patterns} patterns, {main.distinct_states} distinct states "
                f"at round starts ({main.states}), {main.configurations} step runs, "
                f"{main.seconds:.2f} s CPU")
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print("\n".join(text))
    return EXIT_SAFE if found.witness is None else EXIT_COUNTEREXAMPLE


def _draw(replayed: Any, witness: Witness, path: str) -> None:
    """The message-sequence figure of paxos-report, drawn from the replay's trace, with the
    faults as events, in words, under it."""
    import pandas as pd

    from paxos_exp.analysis.diagram import sequence_diagram
    from paxos_exp.analysis.files import save_figure_atomic

    result = replayed.result
    trace = pd.DataFrame(result.trace_dicts())
    rounds = pd.DataFrame(result.round_dicts())
    figure = sequence_diagram(trace, nodes=result.config.nodes, outcomes=rounds,
                              initial_values="".join(map(str, witness.values)),
                              title="minimal counterexample",
                              violation=", ".join(witness.broken))
    if replayed.faults:
        # Above the diagram (the legend takes the space below it), as the figure's title:
        # the constrained layout makes room for it in a figure grown by its height.
        text = "\n".join(textwrap.fill(fault_text(event), 100, subsequent_indent="    ")
                         for event in replayed.faults)
        width, height = figure.get_size_inches()
        figure.set_size_inches(width, height + 0.14 * (text.count("\n") + 2))
        figure.suptitle("faults:\n" + text, x=0.02, ha="left", fontsize=7.5,
                        multialignment="left")
    save_figure_atomic(figure, Path(path))
