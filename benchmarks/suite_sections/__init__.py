"""The sections of benchmarks/device_suite.py, one module each (a-e in its docstring)."""
