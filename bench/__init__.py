"""Benchmarks, run with `make bench` (`python -m bench`); the figures go to docs/benchmarks.md.

Every figure is a ratio against a baseline measured in the same run on the same machine: the queue
at 10,000 waiting callers against 100, and /ivr/voice against a bare Flask view that answers the
same TwiML bytes from the same server. Absolute numbers vary between machines; the ratios should not.
"""
