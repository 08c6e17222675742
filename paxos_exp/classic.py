"""The assignment-compatible command line: ``paxos-classic N p R [--seed S]``.

Prints the classic transcript of one protocol run on real node processes. Importing this
module must stay cheap (no pandas, seaborn or Hydra): it is what students run most.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import signal
import sys
from collections.abc import Callable, Sequence

from paxos_exp.core import transcript
from paxos_exp.core.config import (
    MAX_TIMEOUT,
    START_METHODS,
    RunConfig,
    RuntimeOptions,
    parse_initial_values,
)
from paxos_exp.core.errors import ConfigError, OutputClosedError, RunError
from paxos_exp.core.draws import MAX_SEED
from paxos_exp.core.protocols import DEFAULT_PROTOCOL, PROTOCOLS


def _whole_number(label: str, minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[minimum, maximum]``, with a message naming it."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{label} must be a whole number, not {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise argparse.ArgumentTypeError(f"{label} must be {bound}, not {value}")
        return value

    return parse


_nodes = _whole_number("NUM_NODES", 1)
_rounds = _whole_number("NUM_ROUNDS", 0)
_seed = _whole_number("--seed", 0, MAX_SEED)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"CRASH_PROB must be a number, not {text!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"CRASH_PROB must lie between 0 and 1, not {text}")
    return value


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--timeout must be a number of seconds, not {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise argparse.ArgumentTypeError(
            f"--timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT:g}"
        )
    return value


def _setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE a whole number, true, false or null."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--setting takes KEY=VALUE, not {text!r}")
    words = {"true": True, "false": False, "null": None, "none": None}
    if value.lower() in words:
        return key, words[value.lower()]
    try:
        return key, int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--setting {key}: the value must be a whole number, true, false or null, not {value!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paxos-classic",
        description=(
            "Run synchronous binary Paxos with simulated crashes on NUM_NODES real processes "
            "and print the classic transcript (CS403/534 PA3)."
        ),
        epilog="example: paxos-classic 4 0.1 3 --seed 7",
    )
    parser.add_argument("nodes", metavar="NUM_NODES", type=_nodes, help="number of nodes, >= 1")
    parser.add_argument("fail_prob", metavar="CRASH_PROB", type=_probability, help="crash probability in [0, 1]")
    parser.add_argument("rounds", metavar="NUM_ROUNDS", type=_rounds, help="number of rounds, >= 0")
    parser.add_argument("--seed", type=_seed, default=None, help="replay a run (default: a fresh seed, printed to stderr)")
    parser.add_argument(
        "--initial-values", default=None, metavar="BITS",
        help="one 0/1 per node, such as 0110 (default: fair coins from the seed)",
    )
    parser.add_argument(
        "--protocol", choices=PROTOCOLS.names(), default=DEFAULT_PROTOCOL,
        help="the protocol to run (default: classic); the wrong variants show the classic mistakes",
    )
    parser.add_argument(
        "--setting", action="append", default=[], metavar="KEY=VALUE", type=_setting,
        help="a setting of the protocol, such as join_quorum=2 (repeatable)",
    )
    parser.add_argument("--start-method", choices=START_METHODS, default="fork", help="multiprocessing start method")
    parser.add_argument(
        "--timeout", type=_timeout, default=None,
        help="deadline in seconds for every receive and barrier wait (default 10, more for large N)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    seed_given = args.seed is not None
    seed = args.seed if seed_given else secrets.randbits(63)
    try:
        config = RunConfig(
            nodes=args.nodes,
            fail_prob=args.fail_prob,
            rounds=args.rounds,
            seed=seed,
            initial_values=parse_initial_values(args.initial_values),
            protocol={"name": args.protocol, **dict(args.setting)},
        )
        options = RuntimeOptions(
            start_method=args.start_method,
            receive_timeout=args.timeout,
            barrier_timeout=args.timeout,
            transcript=True,
        )
    except ConfigError as error:
        # Name the option the way it is spelled on this command line.
        parser.error(str(error).replace("initial_values=", "--initial-values ")
                     .replace("protocol.allow_unsafe=true", "--setting allow_unsafe=true")
                     .replace("protocol.", "--setting "))
    from paxos_exp.runtime.limits import LimitError, check_fits

    try:
        check_fits(config.nodes, config.rounds)  # this machine's limits, before any output
    except LimitError as error:
        print(f"paxos-classic: error: {str(error).split('; or use engine=')[0]}", file=sys.stderr)
        return 2
    if not seed_given:
        print(f"paxos-classic: seed {seed} (replay with --seed {seed})", file=sys.stderr)
    # SIGTERM cleans up like Ctrl-C: SystemExit unwinds through the supervisor's finally.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    print(transcript.header(config.nodes, config.fail_prob, config.rounds), flush=True)
    from paxos_exp.runtime.api import run_config

    try:
        run_config(config, options)
    except OutputClosedError:
        # The reader has what it wanted (`| head`); say nothing more on a closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except RunError as error:
        sys.stdout.flush()
        print(f"paxos-classic: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("paxos-classic: interrupted; all node processes stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
