"""Task heads (heads/base.py) and the text family's helpers (text.py, vocabulary.py).

This package imports NumPy and the standard library only: the repository builder copies it next to
the Triton python model, where the project package is not installed.
"""
