"""Sweeps: many jobs of one app as child runs of one parent run (grids now, searches next)."""
