"""When a stored run stands for a job: the code's fingerprint, the golden numerics, the decision."""
