"""Sample-data generators: one module per family, rendered for the project's family only.

`<family>.py` holds `sample_rows(family, rng, start, end, rows, entities, seed)`, which returns the
clean rows of one interval; data/sample.py finds it by the family's name and adds what every
family shares (ordering, de-duplication, planted bad rows).
"""
