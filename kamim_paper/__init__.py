"""kamim_paper: the companion of the KAMIM paper, one floor above the library (:mod:`kamim_lib`).

- :mod:`kamim_paper.sections` — one module per notebook, the whole API of that notebook;
- :mod:`kamim_paper.experiments` — the variant grids, training setup and runs of the sections;
- :mod:`kamim_paper.evidence` — held-out and probe measurements with their baselines, and their cache;
- :mod:`kamim_paper.results` — the one results room: store, tables, figures, sentences, published numbers, digest;
- :mod:`kamim_paper.original` — forensics of the original code (what its loaders really loaded, MoCo v3);
- :mod:`kamim_paper.runner` — `kamim reproduce`: profiles, kernels, preflight, Colab setup;
- :mod:`kamim_paper.cli` — the ``kamim`` command.

The library never imports this package (tests/lib/test_architecture.py checks it).
"""
