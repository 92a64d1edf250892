"""Development-only code of Socle: real local servers (``localinfra``) for ``make run``, tests
and benchmarks, and the test toolbox (``testing``). Production images do not carry it."""
