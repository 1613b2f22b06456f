"""Reciprocal (pseudoinverse) feedback: the Recirculation pair's diagnostics and runs."""
