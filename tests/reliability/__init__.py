"""Faults, bad input and load posdesk must survive (``/work/shared/RELIABILITY.md``; figures in
``docs/reliability.md``)."""
