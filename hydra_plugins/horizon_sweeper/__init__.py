"""The horizon sweeper: `hydra/sweeper=horizon` (config.py registers it; suite/horizon.py holds the search)."""
