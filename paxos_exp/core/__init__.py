"""The pure protocol: messages, node steps, failure draws, quorums, safety checks, theory.

Standard library only; no processes, sockets, clocks or global randomness.
"""
