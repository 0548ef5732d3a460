"""The horizon sweeper: `hydra/sweeper=horizon` (conf/hydra/sweeper/horizon.yaml documents it)."""
