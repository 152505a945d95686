"""`kamim reproduce`: run the paper's notebooks through papermill for a params profile.

- :mod:`.catalogue` — the sections in dependency order; :mod:`.profiles` — ``params/<name>.yaml``;
- :mod:`.preflight` — every parameter checked before the first notebook runs;
- :mod:`.runner` — execution, skipping, logs; :mod:`.kernel_control` — the kernels' output and Ctrl-C;
- :mod:`.colab` — the notebooks' Colab setup; :mod:`.bytecode_warmup` — the environment's bytecode cache.
"""
