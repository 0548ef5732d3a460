"""Everything the suite says to MLflow, in one place: where runs go (store), how a run is logged
(run_logger), every search of the store (queries), runs whose process is gone (owners), and
results sent late to a server that came back (reimport)."""
