"""The horizon sweeper: `hydra/sweeper=horizon` (config.py registers it; suite/horizon/search.py holds the search)."""
