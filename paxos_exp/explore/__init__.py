"""The exhaustive checker: every fault pattern of a small configuration, explored through
the real round driver and protocol steps, with exact probabilities and minimal
counterexamples that replay through both engines. ``paxos-check exhaustive`` is its CLI."""
