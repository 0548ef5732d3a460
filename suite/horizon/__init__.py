"""The horizon: T50 and its interval from pass/fail runs, and the search that places runs where they narrow it."""
