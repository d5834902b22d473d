"""Training layer: a Kubeflow Pipelines v2 pipeline that trains, evaluates, registers and promotes.

build_training_set -> train -> evaluate -> register -> promote (see docs/training.md).

- `settings`: the `training:` section of platform.yaml and the family's feature contract.
- `dataset`, `models`, `evaluation`, `steps`: the feature-row families' training set, model,
  metrics and gate, and pipeline steps (a PyTorch vision project has `vision/steps.py` instead).
- `promotion`: the champion-vs-challenger rule every steps module ends with.
- `components`: the KFP v2 components over the steps module; `pipelines/training_pipeline.py` wires them.
- `registry`: the registered champion, for the serving and monitoring layers.
- `run`: compile, run locally (kfp.local), submit to Kubeflow.
"""
