"""A sweep: its plan and up-front checks, its parent run, what the launching process and the jobs share."""
