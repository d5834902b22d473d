"""The model each use-case family trains for real on the sample data, and its ONNX export.

| family           | smoke model                                                        | ONNX via     |
|------------------|--------------------------------------------------------------------|--------------|
| tabular          | LightGBM classifier                                                | onnxmltools  |
| time_series      | LightGBM regressor on the lag features                             | onnxmltools  |
| recommendations  | matrix factorization (truncated SVD of user x item) + logistic reg. | hand-built   |
| text, generation | logistic regression on hashed token counts                         | skl2onnx     |
| vision           | small MLP (one hidden layer) on the 8x8 pixels                     | skl2onnx     |
| audio            | LightGBM classifier on the spectral band energies                  | onnxmltools  |

Every export has ONE input `features` (FP32 [None, n_features], contract.yaml order) and ONE
output `scores` (FP32 [None, n_classes] class probabilities, or [None, 1] for regression).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.base import BaseEstimator, ClassifierMixin  # type: ignore[import-untyped]
from sklearn.decomposition import TruncatedSVD  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import KFold  # type: ignore[import-untyped]
from sklearn.neural_network import MLPClassifier  # type: ignore[import-untyped]
from sklearn.pipeline import Pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

from .errors import TrainingError
from .settings import FamilyContract

INPUT_NAME = "features"
OUTPUT_NAME = "scores"
ONNX_OPSET = 15
ONNX_ML_OPSET = 3

# Defaults per family; platform.yaml training.model_params overrides single keys.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "tabular": {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20, "n_jobs": 1},
    "time_series": {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 20, "n_jobs": 1},
    "audio": {"n_estimators": 150, "learning_rate": 0.1, "num_leaves": 15, "min_child_samples": 10, "n_jobs": 1},
    "recommendations": {"n_components": 8, "C": 1.0},
    "text": {"C": 1.0, "max_iter": 1000},
    "generation": {"C": 1.0, "max_iter": 1000},
    "vision": {"hidden_layer_sizes": [32], "alpha": 0.0001, "max_iter": 300},
}

SMOKE_MODELS: dict[str, str] = {
    "tabular": "LightGBM classifier",
    "time_series": "LightGBM regressor on lag features",
    "audio": "LightGBM classifier on spectral band energies",
    "recommendations": "matrix factorization (truncated SVD of user x item) + logistic regression",
    "text": "logistic regression on hashed token counts",
    "generation": "logistic regression on hashed token counts (routes prompts by intent; generates no text)",
    "vision": "one-hidden-layer MLP on 8x8 pixels",
}


def model_params(family: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The family's defaults with `overrides` applied."""
    if family not in DEFAULT_PARAMS:
        raise TrainingError(f"no smoke model for family '{family}' (known: {', '.join(sorted(DEFAULT_PARAMS))})")
    return {**DEFAULT_PARAMS[family], **(overrides or {})}


def build_estimator(contract: FamilyContract, params: dict[str, Any], *, seed: int) -> Any:
    """An unfitted estimator for the family; TrainingError on an unknown hyper-parameter."""
    family = contract.family
    merged = dict(params)
    try:
        if family in ("tabular", "audio", "time_series"):
            import lightgbm

            common = {"random_state": seed, "verbose": -1, **merged}
            kind = lightgbm.LGBMRegressor if family == "time_series" else lightgbm.LGBMClassifier
            unknown = sorted(set(merged) - set(kind().get_params()))
            if unknown:  # LightGBM would only warn at fit time and train without them
                raise TypeError(f"{kind.__name__} has no parameter(s) {unknown}")
            return kind(**common)
        if family == "recommendations":
            features = list(contract.features)
            return MatrixFactorizationClassifier(
                user_column=features.index("user_id_code"),
                item_column=features.index("item_id_code"),
                random_state=seed,
                **merged,
            )
        if family in ("text", "generation"):
            return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(random_state=seed, **merged))])
        if family == "vision":
            if "hidden_layer_sizes" in merged:
                merged["hidden_layer_sizes"] = tuple(int(n) for n in merged["hidden_layer_sizes"])
            return Pipeline([("scale", StandardScaler()), ("model", MLPClassifier(random_state=seed, **merged))])
    except TypeError as error:
        raise TrainingError(f"training.model_params for family '{family}': {error}") from error
    except ValueError as error:
        raise TrainingError(f"family '{family}' needs the features user_id_code and item_id_code: {error}") from error
    raise TrainingError(f"no smoke model for family '{family}'")


def fit(estimator: Any, x: npt.NDArray[np.float32], y: npt.NDArray[Any]) -> Any:
    """Fit; hyper-parameter errors from the library become a TrainingError."""
    try:
        return estimator.fit(x, y)
    except (TypeError, ValueError) as error:
        raise TrainingError(f"training failed: {error}") from error


def predict_scores(model: Any, x: npt.NDArray[np.float32], contract: FamilyContract) -> npt.NDArray[np.float32]:
    """What serving returns: class probabilities [n, n_classes] or the prediction [n, 1]."""
    if contract.is_classifier:
        proba = np.asarray(model.predict_proba(x), dtype=np.float32)
        return _full_width(proba, model, contract)
    return np.asarray(model.predict(x), dtype=np.float32).reshape(-1, 1)


def _full_width(proba: npt.NDArray[np.float32], model: Any, contract: FamilyContract) -> npt.NDArray[np.float32]:
    """Probabilities for every class of the contract, also when training saw only some of them."""
    classes = [int(c) for c in getattr(model, "classes_", range(proba.shape[1]))]
    if len(classes) == contract.n_outputs and classes == list(range(contract.n_outputs)):
        return proba
    full = np.zeros((proba.shape[0], contract.n_outputs), dtype=np.float32)
    full[:, classes] = proba
    return full


class MatrixFactorizationClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Click model: truncated SVD of the user x item matrix (+1 click, -1 ignored) gives user and
    item factors; their dot product, with the other features, feeds a logistic regression.

    The regression is fitted on out-of-fold factor scores (the factors of a fold never saw its
    labels), so it learns how far the factors generalise. Unknown user/item codes get zero factors.
    """

    def __init__(
        self,
        n_components: int = 8,
        C: float = 1.0,
        user_column: int = 0,
        item_column: int = 1,
        folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.n_components = n_components
        self.C = C
        self.user_column = user_column
        self.item_column = item_column
        self.folds = folds
        self.random_state = random_state

    def _codes(self, x: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        users = np.clip(x[:, self.user_column].astype(np.int64), 0, self.n_users_)
        items = np.clip(x[:, self.item_column].astype(np.int64), 0, self.n_items_)
        return users, items

    def _factorize(
        self, users: npt.NDArray[np.int64], items: npt.NDArray[np.int64], y: npt.NDArray[Any]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(user factors, item factors), each with a trailing zero row for unknown codes."""
        values = np.where(y == 1, 1.0, -1.0)
        matrix = sparse.coo_matrix((values, (users, items)), shape=(self.n_users_, self.n_items_)).tocsr()
        k = max(1, min(self.n_components, min(matrix.shape) - 1))
        svd = TruncatedSVD(n_components=k, random_state=self.random_state).fit(matrix)
        user_factors = np.vstack([svd.transform(matrix), np.zeros((1, k))])
        item_factors = np.vstack([svd.components_.T, np.zeros((1, k))])
        return user_factors, item_factors

    def _design(
        self,
        x: npt.NDArray[Any],
        users: npt.NDArray[np.int64],
        items: npt.NDArray[np.int64],
        user_factors: npt.NDArray[np.float64],
        item_factors: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]:
        mf = np.sum(user_factors[users] * item_factors[items], axis=1, keepdims=True)
        return np.hstack([mf, x[:, self.side_columns_].astype(np.float64)])

    def fit(self, x: npt.NDArray[Any], y: npt.NDArray[Any]) -> MatrixFactorizationClassifier:
        x = np.asarray(x, dtype=np.float32)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"the click model needs two classes, got {self.classes_.tolist()}")
        self.side_columns_ = [i for i in range(x.shape[1]) if i not in (self.user_column, self.item_column)]
        self.n_users_ = int(x[:, self.user_column].max()) + 1
        self.n_items_ = int(x[:, self.item_column].max()) + 1
        users, items = self._codes(x)
        design = np.zeros((len(x), 1 + len(self.side_columns_)))
        for fit_rows, score_rows in KFold(self.folds, shuffle=True, random_state=self.random_state).split(x):
            u_f, i_f = self._factorize(users[fit_rows], items[fit_rows], y[fit_rows])
            design[score_rows] = self._design(x[score_rows], users[score_rows], items[score_rows], u_f, i_f)
        self.user_factors_, self.item_factors_ = self._factorize(users, items, y)
        self.mean_ = design.mean(axis=0)
        self.scale_ = np.where(design.std(axis=0) > 0, design.std(axis=0), 1.0)
        regression = LogisticRegression(C=self.C, max_iter=1000).fit((design - self.mean_) / self.scale_, y)
        self.coef_ = np.asarray(regression.coef_[0], dtype=np.float64)
        self.intercept_ = float(regression.intercept_[0])
        return self

    def decision_function(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        x = np.asarray(x, dtype=np.float32)
        users, items = self._codes(x)
        design = self._design(x, users, items, self.user_factors_, self.item_factors_)
        result: npt.NDArray[np.float64] = ((design - self.mean_) / self.scale_) @ self.coef_ + self.intercept_
        return result

    def predict_proba(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(x)))
        return np.column_stack([1.0 - p, p])

    def predict(self, x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.asarray(self.classes_[(self.predict_proba(x)[:, 1] >= 0.5).astype(int)])


# ------------------------------------------------------------------------------------------ ONNX


def _const(name: str, array: npt.NDArray[Any]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name=name)


def _matrix_factorization_onnx(model: MatrixFactorizationClassifier, n_features: int) -> onnx.ModelProto:
    f32 = np.float32
    inits = [
        _const("user_col", np.array([model.user_column], dtype=np.int64)),
        _const("item_col", np.array([model.item_column], dtype=np.int64)),
        _const("side_cols", np.array(model.side_columns_, dtype=np.int64)),
        _const("zero_i", np.array(0, dtype=np.int64)),
        _const("max_user", np.array(model.n_users_, dtype=np.int64)),
        _const("max_item", np.array(model.n_items_, dtype=np.int64)),
        _const("flat", np.array([-1], dtype=np.int64)),
        _const("axis1", np.array([1], dtype=np.int64)),
        _const("user_factors", model.user_factors_.astype(f32)),
        _const("item_factors", model.item_factors_.astype(f32)),
        _const("mean", model.mean_.astype(f32)),
        _const("scale", model.scale_.astype(f32)),
        _const("coef", model.coef_.astype(f32).reshape(-1, 1)),
        _const("intercept", np.array([model.intercept_], dtype=f32)),
        _const("one", np.array([1.0], dtype=f32)),
    ]
    node = helper.make_node
    nodes = [
        node("Gather", [INPUT_NAME, "user_col"], ["user_f"], axis=1),
        node("Gather", [INPUT_NAME, "item_col"], ["item_f"], axis=1),
        node("Cast", ["user_f"], ["user_i"], to=TensorProto.INT64),
        node("Cast", ["item_f"], ["item_i"], to=TensorProto.INT64),
        node("Clip", ["user_i", "zero_i", "max_user"], ["user_c"]),
        node("Clip", ["item_i", "zero_i", "max_item"], ["item_c"]),
        node("Reshape", ["user_c", "flat"], ["user_idx"]),
        node("Reshape", ["item_c", "flat"], ["item_idx"]),
        node("Gather", ["user_factors", "user_idx"], ["u_vec"], axis=0),
        node("Gather", ["item_factors", "item_idx"], ["i_vec"], axis=0),
        node("Mul", ["u_vec", "i_vec"], ["ui"]),
        node("ReduceSum", ["ui", "axis1"], ["mf"], keepdims=1),
        node("Gather", [INPUT_NAME, "side_cols"], ["side"], axis=1),
        node("Concat", ["mf", "side"], ["design"], axis=1),
        node("Sub", ["design", "mean"], ["centred"]),
        node("Div", ["centred", "scale"], ["scaled"]),
        node("MatMul", ["scaled", "coef"], ["dot"]),
        node("Add", ["dot", "intercept"], ["logit"]),
        node("Sigmoid", ["logit"], ["p_click"]),
        node("Sub", ["one", "p_click"], ["p_ignore"]),
        node("Concat", ["p_ignore", "p_click"], [OUTPUT_NAME], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "matrix_factorization",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, 2])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _single_output(model: onnx.ModelProto, source: str, width: int) -> onnx.ModelProto:
    """Keep only `source` as the graph output, renamed `scores` [None, width]; drop unused nodes."""
    graph = model.graph
    graph.node.append(helper.make_node("Identity", [source], [OUTPUT_NAME], name="scores_identity"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None, width]))
    needed = {OUTPUT_NAME}
    kept = []
    for item in reversed(list(graph.node)):
        if any(name in needed for name in item.output):
            kept.append(item)
            needed.update(item.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(used)
    return model


def _exact_lightgbm_thresholds(model: onnx.ModelProto, dump: dict[str, Any]) -> None:
    """Make the float32 split thresholds of the ONNX trees decide like LightGBM's double ones.

    LightGBM splits on `x <= t` with t a double between two float32 values; ONNX stores float32(t),
    which rounds up to the next float32 value half of the time and then sends rows holding exactly
    that value the other way. For float32 inputs, `x <= t` equals `x <= largest float32 <= t`.
    """
    doubles: dict[tuple[int, int], list[float]] = {}
    for tree_id, tree in enumerate(dump["tree_info"]):
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                doubles.setdefault((tree_id, int(node["split_feature"])), []).append(float(node["threshold"]))
                stack.extend([node["left_child"], node["right_child"]])
    down = np.float32(-np.inf)
    for item in model.graph.node:
        if not item.op_type.startswith("TreeEnsemble"):
            continue
        attrs = {attr.name: attr for attr in item.attribute}
        modes, trees = attrs["nodes_modes"].strings, attrs["nodes_treeids"].ints
        features, values = attrs["nodes_featureids"].ints, attrs["nodes_values"].floats
        for index, mode in enumerate(modes):
            if mode != b"BRANCH_LEQ":
                continue
            stored = np.float32(values[index])
            for threshold in doubles.get((int(trees[index]), int(features[index])), []):
                if np.float32(threshold) == stored and float(stored) > threshold:
                    values[index] = float(np.nextafter(stored, down))
                    break


def _scores_output(model: onnx.ModelProto, contract: FamilyContract) -> str:
    """The converter's probabilities output (classifiers) or its prediction output (regressors)."""
    names = [str(output.name) for output in model.graph.output]
    if contract.is_classifier:
        for name in names:
            if "prob" in name:
                return name
        raise TrainingError(f"the ONNX converter produced no probabilities output (outputs: {names})")
    return names[0]


def to_onnx(model: Any, contract: FamilyContract) -> onnx.ModelProto:
    """The fitted model as ONNX: input `features` FP32 [None, n], output `scores` (see module doc)."""
    n = len(contract.features)
    width = contract.n_outputs
    if isinstance(model, MatrixFactorizationClassifier):
        exported = _matrix_factorization_onnx(model, n)
    elif type(model).__module__.startswith("lightgbm"):
        from onnxmltools.convert import convert_lightgbm  # type: ignore[import-untyped]
        from onnxmltools.convert.common.data_types import FloatTensorType  # type: ignore[import-untyped]

        converted = convert_lightgbm(
            model,
            initial_types=[(INPUT_NAME, FloatTensorType([None, n]))],
            zipmap=False,
            target_opset=ONNX_OPSET,
        )
        _exact_lightgbm_thresholds(converted, model.booster_.dump_model())
        exported = _single_output(converted, _scores_output(converted, contract), width)
    else:
        from skl2onnx import convert_sklearn  # type: ignore[import-untyped]
        from skl2onnx.common.data_types import FloatTensorType as SkFloat  # type: ignore[import-untyped]

        final = model.steps[-1][1] if isinstance(model, Pipeline) else model
        converted = convert_sklearn(
            model,
            initial_types=[(INPUT_NAME, SkFloat([None, n]))],
            options={id(final): {"zipmap": False}} if contract.is_classifier else None,
            target_opset={"": ONNX_OPSET, "ai.onnx.ml": ONNX_ML_OPSET},
        )
        exported = _single_output(converted, _scores_output(converted, contract), width)
    onnx.checker.check_model(exported)
    return exported


def onnx_scores(model_bytes: bytes, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Run an exported model the way Triton's ONNX runtime does: `features` in, `scores` out."""
    import onnxruntime  # type: ignore[import-untyped]

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    (scores,) = session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})
    return np.asarray(scores, dtype=np.float32)
