"""This project's package. Every setting comes from platform.yaml (see config.py)."""

__version__ = "0.1.0"
