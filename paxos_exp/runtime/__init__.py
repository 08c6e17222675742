"""Engines that run the pure core: real processes over ZeroMQ, and an in-process reference."""
