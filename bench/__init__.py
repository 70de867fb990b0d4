"""Benchmarks of the quality bars in DESIGN.md section 7: ``python -m bench NAME`` or ``python -m bench all``.

Each benchmark prints a small table: the figure, a baseline measured in the same run on the same machine,
their ratio, the bar and whether the figure meets it. These are measurements, never pass/fail tests;
results are recorded in ``docs/performance.md``.
"""
