"""The experiments of the sections: variant grids, training setup, runs, and the inputs of the analyses."""
