"""Use cases: one function each, taking plain values, the acting user and a unit of work."""
