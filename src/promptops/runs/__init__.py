"""Run folders and the summaries written into them: what reports and `compare` read back."""
