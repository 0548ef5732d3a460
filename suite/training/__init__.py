"""Training one run: the loop, its wiring to a config, the gradient diagnostics, and what shows progress."""
