"""Training layer: a Kubeflow Pipelines v2 pipeline that trains, evaluates, registers and promotes.

build_training_set -> train -> evaluate -> register -> promote (see docs/training.md).

- `settings`: the `training:` section of platform.yaml and the family's feature contract.
- `dataset`: the training set from the feature store, checked and split.
- `models`: the model each use-case family trains, and its ONNX export.
- `evaluation`: metrics, the trivial baseline and the quality gate.
- `steps`: the pipeline steps as plain functions (the KFP components call them).
- `components`: the KFP v2 components; `pipelines/training_pipeline.py` wires them.
- `registry`: the registered champion, for the serving and monitoring layers.
- `run`: compile, run locally (kfp.local), submit to Kubeflow.
"""
