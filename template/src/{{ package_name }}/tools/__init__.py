"""Maintenance tools for this project (run with `python -m <package>.tools.<tool>`)."""
