"""Reporting: projects every topic into its own read views and serves them; owns nothing else."""
