"""One module per notebook: its parameters, its computation, its tables, figures and generated conclusions."""
