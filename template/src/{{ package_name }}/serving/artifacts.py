"""The files every model repository and edge bundle of this project is made of, and their checksums.

    MODEL_FILE       the ONNX file's name in a model version folder (<model>/1/model.onnx) or a bundle
    PYTHON_MODEL     triton_model.py: the python-backend model (local profile)
    sha256_file(p)   what manifests record, and what an edge device checks before it swaps a model in

The vision steps reuse PYTHON_MODEL's DLPack helpers; both repository builders and both edge
bundles name their model MODEL_FILE and record its sha256_file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MODEL_FILE = "model.onnx"
PYTHON_MODEL = Path(__file__).with_name("triton_model.py")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (models can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
