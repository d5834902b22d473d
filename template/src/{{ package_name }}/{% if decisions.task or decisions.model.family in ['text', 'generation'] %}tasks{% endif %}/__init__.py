"""The use case's task layer (platform.yaml decisions.task): its production contract, the head that
serves it around the core model, and the head in training, serving, the smoke run and on the edge.
The text and generation families' sample data uses the text helpers in heads/ too."""
