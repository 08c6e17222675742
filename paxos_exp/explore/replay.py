"""A witness replayed through an engine: the recorded choices as the run's draws
(:attr:`RunConfig.draws`), so the engine's own fault model, built by
``config.build_faults()``, makes exactly the witness's faults."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from paxos_exp.core import transcript
from paxos_exp.core.config import RunConfig, RuntimeOptions
from paxos_exp.core.faults import FaultEvent
from paxos_exp.core.records import RunResult
from paxos_exp.explore.draws import Choice, ScriptedDraws
from paxos_exp.explore.explorer import Witness
from paxos_exp.explore.fault_events import fault_events


@dataclass
class Replay:
    """One engine's run of a witness: its records and trace, its classic transcript
    (in-process only; the real processes print theirs to their own standard output) and its
    faults as events, in words, with the witness's recorded choices they come from."""

    engine: str
    result: RunResult
    lines: list[str]
    faults: list[FaultEvent] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)

    @property
    def broken(self) -> tuple[str, ...]:
        """The properties the replayed trial broke."""
        trial = self.result.trials[0]
        return tuple(name for name in ("agreement", "validity", "proposals")
                     if not getattr(trial, f"{name}_ok"))


def witness_config(config: RunConfig, witness: Witness) -> RunConfig:
    """The one-trial run of ``witness``: its N, rounds and initial values, its choices."""
    return replace(config, nodes=witness.nodes, rounds=witness.rounds, trials=1,
                   initial_values=witness.values, safety="record", trace=True,
                   draws=ScriptedDraws(witness.choices))


def replay(config: RunConfig, witness: Witness, engine: str = "inprocess") -> Replay:
    """Run ``witness`` of ``config`` on ``engine`` (``inprocess`` or ``processes``)."""
    from paxos_exp.runtime.api import run_config

    run = witness_config(config, witness)
    lines = [transcript.header(run.nodes, run.fail_prob, run.rounds)]
    transcript_wanted = engine == "inprocess"
    result = run_config(run, RuntimeOptions(engine=engine, transcript=transcript_wanted),
                        emit=lines.append if transcript_wanted else None)
    return Replay(engine, result, lines if transcript_wanted else [],
                  fault_events(run, witness.choices), list(witness.choices))
