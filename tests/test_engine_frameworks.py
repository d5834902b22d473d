"""Tier 1: the catalog's PyTorch frameworks and model licences as decisions.

A use case whose chosen option names a framework (catalog `options[].framework`) gets it as
`decisions.model.framework` (what renders src/<package>/vision/), with the use case's precision
tolerance; it then serves its production contract itself, so it has no smoke head (`decisions.task`).
The design review warns when a self-hosted model's licence binds the product.
"""

from __future__ import annotations

import pytest
from platform_engine import Answers, decide, model_choice, review
from platform_engine.model_choice import restrictive_licence
from platform_engine.tables import table

pytestmark = pytest.mark.engine


def test_object_detection_gets_the_torchvision_framework_and_no_smoke_head() -> None:
    decisions = decide(Answers(use_case="object_detection"))
    framework = decisions.model.numbers["framework"]
    assert framework["library"] == "torchvision"
    assert framework["architecture"] == "ssdlite320_mobilenet_v3_large"
    assert framework["weights"] == "COCO_V1"
    assert framework["precision_tolerance"] == {"fp16": 0.01, "int8": 0.05}
    assert decisions.model.numbers["licence"] == "BSD-3-Clause"
    assert decisions.task is None


def test_the_accuracy_option_trains_the_small_architecture_locally() -> None:
    framework = decide(Answers(use_case="object_detection", accuracy_preference="accuracy")).model.numbers["framework"]
    assert framework["architecture"] == "ssd300_vgg16"
    assert framework["local_architecture"] == "ssdlite320_mobilenet_v3_large"


@pytest.mark.parametrize("pattern", ["edge", "batch"])
def test_every_serving_pattern_serves_the_framework(pattern: str) -> None:
    decisions = decide(Answers(use_case="object_detection", serving_pattern=pattern, hosting="self_hosted"))
    assert decisions.model.numbers["framework"]["task"] == "detection"
    assert decisions.task is None


@pytest.mark.parametrize(
    ("use_case", "preference", "task", "architecture", "weights", "local", "metric"),
    [
        ("object_detection", "speed", "detection", "ssdlite320_mobilenet_v3_large", "COCO_V1",
         "ssdlite320_mobilenet_v3_large", "map50"),
        ("image_classification", "speed", "classification", "efficientnet_b0", "IMAGENET1K_V1",
         "mobilenet_v3_small", "accuracy"),
        ("image_classification", "accuracy", "classification", "vit_b_16", "IMAGENET1K_V1",
         "mobilenet_v3_small", "accuracy"),
        ("segmentation", "speed", "segmentation", "lraspp_mobilenet_v3_large", "COCO_WITH_VOC_LABELS_V1",
         "lraspp_mobilenet_v3_large", "miou"),
        ("segmentation", "accuracy", "segmentation", "deeplabv3_resnet50", "COCO_WITH_VOC_LABELS_V1",
         "lraspp_mobilenet_v3_large", "miou"),
        ("ocr", "speed", "ocr", "crnn_resnet18", "IMAGENET1K_V1", "crnn_small", "char_accuracy"),
        ("ocr", "accuracy", "ocr", "crnn_resnet34", "IMAGENET1K_V1", "crnn_small", "char_accuracy"),
        ("face_recognition", "speed", "face", "mobilenet_v3_large", "IMAGENET1K_V1", "mobilenet_v3_small", "rank1"),
        ("face_recognition", "accuracy", "face", "resnet50", "IMAGENET1K_V2", "mobilenet_v3_small", "rank1"),
    ],
)  # fmt: skip
def test_each_vision_task_names_its_torchvision_model(
    use_case: str, preference: str, task: str, architecture: str, weights: str, local: str, metric: str
) -> None:
    decisions = decide(Answers(use_case=use_case, accuracy_preference=preference))
    framework = decisions.model.numbers["framework"]
    assert (framework["task"], framework["library"]) == (task, "torchvision")
    assert (framework["architecture"], framework["weights"]) == (architecture, weights)
    assert (framework["local_architecture"], framework["metric"]) == (local, metric)
    assert set(framework["precision_tolerance"]) == {"fp16", "int8"}
    assert decisions.task is None


@pytest.mark.parametrize("use_case", ["tabular", "speech_to_text", "embeddings", "text_generation"])
def test_use_cases_without_a_framework_have_none(use_case: str) -> None:
    assert decide(Answers(use_case=use_case)).model.numbers["framework"] is None


def test_the_agpl_alternative_is_listed_with_its_licence() -> None:
    alternatives = decide(Answers(use_case="object_detection")).model.alternatives
    assert any(a.startswith("YOLOv8-n (AGPL-3.0: copyleft") for a in alternatives)


def test_every_vision_option_records_its_licence() -> None:
    for entry in table("catalog")["use_cases"].values():
        if entry["family"] == "vision":
            assert all(option.get("licence") for option in entry["options"].values()), entry["label"]


def _with_face_option(monkeypatch: pytest.MonkeyPatch, **speed: object) -> None:
    """The catalog with face recognition's speed option changed (no served option is research-only today)."""
    catalog = table("catalog")
    entry = catalog["use_cases"]["face_recognition"]
    options = {**entry["options"], "speed": {**entry["options"]["speed"], **speed}}
    changed = {**catalog, "use_cases": {**catalog["use_cases"], "face_recognition": {**entry, "options": options}}}
    for module in (model_choice, review):
        monkeypatch.setattr(module, "table", lambda name: changed if name == "catalog" else table(name), raising=False)


def test_a_self_hosted_research_only_model_is_warned_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_face_option(monkeypatch, model="InsightFace (buffalo_s)", licence="non-commercial")
    answers = Answers(use_case="face_recognition", hosting="self_hosted", monthly_requests=5_000_000, peak_rps=50)
    (warning,) = [w for w in decide(answers).warnings if w.code == "restrictive-model-licence"]
    assert "InsightFace (buffalo_s) is licensed non-commercial" in warning.message
    assert warning.fix_answers == {"accuracy_preference": "accuracy"}
    fixed = decide(Answers(**{**answers.__dict__, **warning.fix_answers}))
    assert "restrictive-model-licence" not in {w.code for w in fixed.warnings}


def test_no_served_catalog_option_has_a_restrictive_licence() -> None:
    """Copyleft and research-only models are listed as alternatives, never served by default."""
    for name, entry in table("catalog")["use_cases"].items():
        for key, option in entry["options"].items():
            assert restrictive_licence(option) is None, (name, key, option["model"])


def test_the_research_only_face_models_are_listed_as_alternatives() -> None:
    alternatives = decide(Answers(use_case="face_recognition")).model.alternatives
    assert any(a.startswith("InsightFace (buffalo_s) (non-commercial: the weights") for a in alternatives)


def test_the_api_hosts_the_model_so_its_licence_is_not_warned(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_face_option(monkeypatch, licence="non-commercial")
    codes = {w.code for w in decide(Answers(use_case="face_recognition", hosting="api")).warnings}
    assert "restrictive-model-licence" not in codes


def test_restrictive_licence_reads_the_catalog_table() -> None:
    assert restrictive_licence({"licence": "AGPL-3.0"}) is not None
    assert restrictive_licence({"licence": "BSD-3-Clause"}) is None
    assert restrictive_licence({}) is None
