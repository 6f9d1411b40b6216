"""Experiments over finished runs: grids of prompt x model cells, business cost, the run
index, MLflow tracking and non-inferiority decisions.

This package orchestrates: it calls the eval runner once per cell and reads the run folders
it wrote (summary.json, results.jsonl); it never re-implements scoring. Import the modules
you need; nothing heavy loads here.
"""
