"""The model of each family: one module per family, rendered for the project's family only.

`<family>.py` holds DEFAULT_PARAMS, SMOKE_MODEL, build(contract, params, seed) and
to_onnx(model, contract); training/models.py finds it by the family's name. LightGBM
(lightgbm_trees.py) and the scikit-learn export (sklearn_export.py) are shared by the families that
use them and render with them.
"""
