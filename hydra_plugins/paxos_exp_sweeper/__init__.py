"""paxos-exp's Hydra sweeper plugin (see paxos_sweeper.py)."""
