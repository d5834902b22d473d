"""Cloud resource names (platform_engine.naming): the engine decides every name once, within each
cloud's rules, and the rendered project uses exactly those names everywhere.

Engine tests (tier 1): limits and characters per cloud over many project names, the suffix (stable,
never cut, the answer's validation), names that stay apart when slugs shorten alike, the cost labels
recorded as the clouds store them. Render tests (tier 2): platform.yaml's URIs, the Kustomize
overlays, backend.tfbackend and terraform.tfvars.json name exactly the engine's names, on every cloud.
The Terraform side (module validation and cost_tags agree with the engine) is in test_terraform.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from conftest import REPO, render_project
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from platform_engine import AnswerError, Answers, decide, default_project_name, field_error, validate
from platform_engine.answers import CLOUDS, LABEL_VALUE_RE
from platform_engine.naming import (
    NamingError,
    build_name,
    decide_names,
    default_resource_suffix,
    label_value,
    main_environment,
)
from platform_engine.tables import table, use_cases

engine = pytest.mark.engine
NAME_CHARS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.!éüßçÅ"))
PROJECT_NAMES = st.text(NAME_CHARS, min_size=1, max_size=60)
ENVIRONMENTS = st.sampled_from([("dev", "prod"), ("dev",), ("prod",)])


def _answers(name: str, cloud: str, environments: tuple[str, ...] = ("dev", "prod"), **more: Any) -> Answers:
    answers = Answers(project_name=name, cloud=cloud, environments=environments, **more)
    assume(not validate(answers))  # names the answers' validation refuses never reach the engine
    return answers


def _kind_of(cloud: str, section: str, key: str) -> dict[str, Any] | None:
    rules = table("naming")["clouds"][cloud]
    entry = rules[section][key]
    return None if isinstance(entry, str) else dict(rules["kinds"][entry["kind"]])


def _assert_follows(name: str, rule: dict[str, Any], suffix: str) -> None:
    chars = rule["chars"]
    assert re.fullmatch(rf"[a-z0-9]([{chars}]*[a-z0-9])?", name), (name, chars)
    assert rule["min_length"] <= len(name) <= rule["max_length"], (name, rule)
    assert "--" not in name, name
    if rule["global"]:
        assert name.endswith(suffix), (name, suffix)  # never cut by shortening
    for prefix in (rule.get("forbidden") or {}).get("prefixes", []):
        assert not name.startswith(prefix), name
    for word in (rule.get("forbidden") or {}).get("words", []):
        assert word not in name, name


# ---------------------------------------------------------------- limits and characters


@engine
@settings(max_examples=300, deadline=None)
@given(name=PROJECT_NAMES, cloud=st.sampled_from(CLOUDS), environments=ENVIRONMENTS)
def test_every_name_follows_its_clouds_rules(name: str, cloud: str, environments: tuple[str, ...]) -> None:
    answers = _answers(name, cloud, environments)
    names = decide_names(answers, "Llama-2 7B (INT4)")
    assert set(names["environments"]) == set(environments)
    for env, record in names["environments"].items():
        for section in ("resources", "state"):
            for key, value in record[section].items():
                rule = _kind_of(cloud, section, key)
                if rule is not None:
                    _assert_follows(value, rule, answers.suffix)
        assert record["resources"]["prefix"].endswith(f"-{env}")
        assert record["resources"]["prefix"].startswith(answers.slug[:4].rstrip("-"))
    assert names["uris"] == names["environments"][main_environment(answers.environments)]["uris"]


@engine
@settings(max_examples=200, deadline=None)
@given(name=PROJECT_NAMES)
def test_azure_storage_accounts_are_3_to_24_lowercase_alphanumerics(name: str) -> None:
    answers = _answers(name, "azure")
    for env, record in decide_names(answers, "x")["environments"].items():
        for account in (record["resources"]["storage_account"], record["state"]["storage_account_name"]):
            assert re.fullmatch(r"[a-z0-9]{3,24}", account), account
            assert account.endswith(answers.suffix), (account, answers.suffix)
        assert env in record["resources"]["storage_account"]
        assert record["uris"]["edge_sync"].startswith(f"abfs://models@{record['resources']['storage_account']}.")


@engine
def test_each_use_case_suggests_its_own_valid_project_name() -> None:
    """The questionnaire's name follows the use case (an OCR project is not churn_prediction), and
    every suggested name derives a slug and a package that every cloud accepts."""
    names = {use_case: default_project_name(use_case) for use_case in use_cases()}
    assert len(set(names.values())) == len(names), names
    assert names["tabular"] == "Churn Prediction"
    for use_case, name in names.items():
        assert Answers(use_case=use_case).project_name == name
        for cloud in CLOUDS:
            context = {"use_case": use_case, "cloud": cloud, "project_name": name}
            assert field_error("project_name", name, context) == "", (use_case, cloud)
            assert field_error("cloud", cloud, context) == "", (use_case, cloud)
        assert validate(Answers(use_case=use_case)) == []
    for empty in ("", "  "):  # an explicit empty name is refused, as Copier's validator refuses it
        with pytest.raises(AnswerError, match="project_name must not be empty"):
            Answers.from_mapping({"use_case": "ocr", "project_name": empty})


@engine
def test_example_names_per_cloud() -> None:
    """The names of the default project, spelled out: what a reader of platform.yaml sees."""
    suffix = hashlib.sha256(b"Churn Prediction").hexdigest()[:6]
    aws = decide_names(Answers(cloud="aws"), "LightGBM")["environments"]["dev"]
    assert aws["resources"] == {
        "prefix": "churn-prediction-dev",
        "artifacts_bucket": f"churn-prediction-dev-mlflow-artifacts-{suffix}",
        "offline_bucket": f"churn-prediction-dev-feast-offline-{suffix}",
        "models_bucket": f"churn-prediction-dev-models-{suffix}",
        "inference_log_bucket": f"churn-prediction-dev-inference-log-{suffix}",
    }
    assert aws["state"] == {
        "bucket": f"churn-prediction-tfstate-{suffix}",
        "key": "churn-prediction/dev/terraform.tfstate",
    }
    assert aws["uris"]["model_repository"] == f"s3://churn-prediction-dev-models-{suffix}/triton"
    gcp = decide_names(Answers(cloud="gcp"), "LightGBM")["environments"]["prod"]
    assert gcp["uris"]["inference_log"] == f"gs://churn-prediction-prod-inference-log-{suffix}/inference-log"
    assert gcp["state"] == {"bucket": f"churn-prediction-tfstate-{suffix}", "prefix": "churn-prediction/prod"}
    azure = decide_names(Answers(cloud="azure"), "LightGBM")["environments"]["prod"]
    assert azure["resources"]["storage_account"] == f"churnpredictioprod{suffix}"
    assert azure["resources"]["postgres_server"] == f"psql-churn-prediction-prod-{suffix}"
    assert azure["resources"]["redis_cache"] == f"redis-churn-prediction-prod-{suffix}"
    assert azure["uris"]["model_repository"] == f"as://churnpredictioprod{suffix}/models/triton"
    assert azure["state"]["storage_account_name"] == f"churnpredictfstate{suffix}"
    assert azure["state"]["resource_group_name"] == "rg-churn-prediction-tfstate"


@engine
def test_prefixes_keep_the_rule_of_earlier_releases() -> None:
    """A deployed stack's clusters, databases and networks keep their names: the prefix is the one
    0.6.0's HCL computed (`trimsuffix(substr(project, 0, 20), "-")-env`), except where GCP's node
    service account (30 characters) could not carry it, which never deployed."""
    slugs = ("churn-prediction", "a", "exactly-twenty-chars", "twenty-chars-then-dash-x", "a-very-long-project-name-x")
    for slug in slugs:
        for cloud in CLOUDS:
            for env in ("dev", "prod"):
                old = f"{slug[:20].rstrip('-')}-{env}"
                new = decide_names(Answers(project_slug=slug, cloud=cloud), "x")["environments"][env]["resources"]
                if cloud == "gcp" and len(old) + len("-nodes") > 30:
                    assert len(new["prefix"]) + len("-nodes") <= 30
                else:
                    assert new["prefix"] == old, (cloud, slug, env)


# ---------------------------------------------------------------- the suffix


@engine
def test_the_default_suffix_is_stable_and_derived_from_the_project_name() -> None:
    expected = hashlib.sha256(b"Fraud Scores").hexdigest()[:6]
    assert default_resource_suffix("Fraud Scores") == expected
    assert Answers(project_name="Fraud Scores").suffix == expected
    assert decide(Answers(project_name="Fraud Scores")).to_dict()["names"]["suffix"] == expected
    assert Answers(project_name="Fraud Scores", resource_suffix="team42").suffix == "team42"
    assert default_resource_suffix("Fraud Scores 2") != expected


@engine
@pytest.mark.parametrize("cloud", CLOUDS)
def test_shortening_cuts_the_slug_never_the_suffix(cloud: str) -> None:
    answers = Answers(project_slug="a-very-long-project-name-for-fraud-detec", cloud=cloud, resource_suffix="zz99zz99")
    names = decide_names(answers, "x")
    rules = table("naming")["clouds"][cloud]
    for record in names["environments"].values():
        for section in ("resources", "state"):
            for key, value in record[section].items():
                entry = rules[section][key]
                if not isinstance(entry, str) and rules["kinds"][entry["kind"]]["global"]:
                    assert value.endswith("zz99zz99"), value
                    assert value.startswith(("avery", "a-very", "psql-a-very", "redis-a-very")), value


@engine
@pytest.mark.parametrize("cloud", CLOUDS)
def test_names_that_shorten_alike_still_differ(cloud: str) -> None:
    """Two projects whose slugs share the first 20 characters (so their prefixes and the slug part of
    every shortened name are the same) get different global names: the suffixes differ."""
    first = Answers(project_name="Customer Churn Prediction Model Alpha", cloud=cloud)
    second = Answers(project_name="Customer Churn Prediction Model Beta", cloud=cloud)
    assert first.slug[:20] == second.slug[:20] and first.suffix != second.suffix
    one, two = decide_names(first, "x"), decide_names(second, "x")
    rules = table("naming")["clouds"][cloud]
    for env in ("dev", "prod"):
        assert one["environments"][env]["resources"]["prefix"] == two["environments"][env]["resources"]["prefix"]
        for section in ("resources", "state"):
            for key, entry in rules[section].items():
                if isinstance(entry, str) or not rules["kinds"][entry["kind"]]["global"]:
                    continue
                a, b = one["environments"][env][section][key], two["environments"][env][section][key]
                assert a != b, (key, a)


@engine
@settings(max_examples=200, deadline=None)
@given(first=PROJECT_NAMES, second=PROJECT_NAMES, cloud=st.sampled_from(CLOUDS))
def test_different_projects_never_share_a_global_name(first: str, second: str, cloud: str) -> None:
    a, b = _answers(first, cloud), _answers(second, cloud)
    assume(a.project_name != b.project_name and a.suffix != b.suffix)
    names_a, names_b = decide_names(a, "x"), decide_names(b, "x")
    rules = table("naming")["clouds"][cloud]
    for env in ("dev", "prod"):
        for section in ("resources", "state"):
            for key, entry in rules[section].items():
                if not isinstance(entry, str) and rules["kinds"][entry["kind"]]["global"]:
                    assert names_a["environments"][env][section][key] != names_b["environments"][env][section][key]


@engine
@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("a1b2", True), ("a1b2c3", True), ("team4242", True), ("abc", False), ("abcdefghi", False),
     ("A1B2C3", False), ("a1-b2", False), ("a1_b2", False)],
)  # fmt: skip
def test_the_suffix_answer_is_validated(value: str, ok: bool) -> None:
    error = field_error("resource_suffix", value)
    assert (error == "") is ok, error
    if not ok:
        assert error.startswith("resource_suffix=") and "4-8 lowercase letters and digits" in error
        with pytest.raises(AnswerError, match="resource_suffix"):
            Answers.from_mapping({"resource_suffix": value})


@engine
def test_the_suffix_question_is_an_advanced_one_with_the_engines_default() -> None:
    question = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))["resource_suffix"]
    assert question["when"] == "{{ tune }}"
    assert question["default"] == "{{ default_resource_suffix(project_name) }}"
    assert "answer_error('resource_suffix'" in question["validator"]


# ---------------------------------------------------------------- what a cloud refuses


@engine
def test_a_slug_gcs_refuses_is_an_answer_error_that_names_the_fix() -> None:
    error = field_error("cloud", "gcp", {"project_name": "Google Ads Model"})
    assert error.startswith("project_slug='google-ads-model' cannot name gcp resources") and "google" in error
    assert "--data project_slug=" in error
    assert field_error("cloud", "aws", {"project_name": "Google Ads Model"}) == ""
    assert field_error("project_slug", "googly-eyes", {"cloud": "gcp", "project_name": "x"}) != ""
    with pytest.raises(AnswerError) as raised:
        Answers.from_mapping({"project_name": "Google Ads Model", "cloud": "gcp"})
    assert len(raised.value.errors) == 1  # reported once, though two fields check it
    with pytest.raises(NamingError, match=r"may not (start with 'goog'|contain 'google')"):
        decide_names(Answers(project_name="Google Ads Model", cloud="gcp"), "x")


@engine
def test_a_name_that_cannot_fit_raises() -> None:
    rule = {"chars": "a-z0-9", "min_length": 3, "max_length": 10, "global": True}
    assert build_name("{slug}{env}", rule, {"slug": "churn-prediction", "env": "dev"}, "abcd") == "chudevabcd"
    with pytest.raises(NamingError, match="no room"):
        build_name("{slug}{env}", rule, {"slug": "churn", "env": "production"}, "abcd")


# ---------------------------------------------------------------- cost labels


@engine
@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("Llama-2 7B (INT4)", "llama-2-7b-int4"),
        ("LightGBM", "lightgbm"),
        ("Café Crème", "cafe-creme"),
        ("", "none"),
        ("!!!", "none"),
        ("x" * 80, "x" * 63),
        ("A Very Long Model Name With Spaces And Symbols !!! that goes on and on", None),
    ],
)
def test_label_values_follow_gcps_rule(raw: str, label: str | None) -> None:
    value = label_value(raw)
    assert LABEL_VALUE_RE.match(value), value
    assert label is None or value == label
    assert label_value(value) == value  # normalising twice changes nothing (the cost_tags module does it again)


@engine
@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_record_holds_the_normalised_labels(cloud: str) -> None:
    decided = decide(Answers(use_case="text_generation", cloud=cloud, hosting="self_hosted"), with_fixes=False)
    model = decided.model.choice
    assert model != model.lower() or " " in model, "pick a model whose raw name needs normalising"
    for env, record in decided.to_dict()["names"]["environments"].items():
        labels = record["labels"]
        assert labels == {
            "project": "support-assistant",  # the use case's example name
            "environment": env,
            "owner": "ml-team",
            "cost-center": "ml-platform",
            "managed-by": "terraform",
            "model": label_value(model),
        }
        assert all(LABEL_VALUE_RE.match(value) for value in labels.values()), labels


# ---------------------------------------------------------------- the 0.7.0 notice

sys.path.insert(0, str(REPO / "migrations"))
import migrate  # noqa: E402


@engine
@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_update_notice_lists_what_a_deployed_stack_must_keep(cloud: str) -> None:
    decided = decide(Answers(cloud=cloud), with_fixes=False).to_dict()
    platform = {"project": {"cloud": cloud, "slug": "churn-prediction"}, "decisions": decided}
    text = "\n\n".join(migrate.names_notice(platform))
    for env in ("dev", "prod"):
        assert f"infra/envs/{env}/backend.hcl" in text and f"infra/envs/{env}/names.auto.tfvars.json" in text
        overrides = json.loads(text.split(f"infra/envs/{env}/names.auto.tfvars.json:\n")[1].split("\n\n")[0])
        assert set(overrides["name_overrides"]) <= set(decided["names"]["environments"][env]["resources"])
        assert "prefix" not in overrides["name_overrides"], "the prefix rule did not change"
    if cloud == "azure":
        assert 'storage_account_name = "churnpredictiontfstate"' in text and '"psql-churn-prediction-dev"' in text
    else:
        assert 'bucket = "churn-prediction-tfstate"' in text


# ---------------------------------------------------------------- rendered projects use the record

RENDER_ANSWERS: dict[str, dict[str, Any]] = {
    "aws": {"cloud": "aws", "project_name": "Fraud Scoring", "serving_pattern": "edge"},
    "gcp": {"cloud": "gcp", "project_name": "Demand Forecast", "use_case": "time_series"},
    "azure": {"cloud": "azure", "project_name": "Customer Churn Prediction Model Alpha", "tune": True,
              "resource_suffix": "team42", "serving_pattern": "batch"},
}  # fmt: skip


def _kustomize(overlay: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (kustomize renders with `kubectl kustomize`)")
    result = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _model_repository(docs: list[dict[str, Any]]) -> str:
    configs = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("triton-config")]
    assert len(configs) == 1, configs
    return str(configs[0]["data"]["MODEL_REPOSITORY"])


def _backend(project: Path, env: str) -> dict[str, Any]:
    """The environment's state settings (infra/envs/<env>/backend.tfbackend, for the one root)."""
    with (project / "infra" / "envs" / env / "backend.tfbackend").open(encoding="utf-8") as handle:
        settings = hcl2.load(handle)
    return {key: value.strip('"') if isinstance(value, str) else value for key, value in settings.items()}


@pytest.mark.render
@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_rendered_project_names_exactly_the_engines_names(cloud: str, tmp_path: Path) -> None:
    answers = RENDER_ANSWERS[cloud]
    project = render_project(tmp_path / cloud, **answers)
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    names = platform["decisions"]["names"]
    expected = decide(Answers.from_mapping(answers), with_fixes=False).to_dict()["names"]
    assert names == expected
    if "resource_suffix" in answers:
        assert names["suffix"] == answers["resource_suffix"]

    # platform.yaml's URIs: the main environment's (the edge sync point in edge projects only)
    if platform["decisions"]["serving_pattern"]["choice"] == "edge":
        assert platform["serving"]["edge"]["sync_uri"] == names["uris"]["edge_sync"]
    else:
        assert "edge" not in platform["serving"]
    assert platform["monitoring"]["inference_log"]["cloud_uri"] == names["uris"]["inference_log"]
    # Kustomize: the base names the main environment's repository, each overlay its own
    base = yaml.safe_load((project / "deploy" / "k8s" / "base" / "kustomization.yaml").read_text(encoding="utf-8"))
    literals = dict(item.split("=", 1) for item in base["configMapGenerator"][0]["literals"])
    assert literals["MODEL_REPOSITORY"] == names["uris"]["model_repository"]
    for env, record in names["environments"].items():
        overlay = _kustomize(project / "deploy" / "k8s" / "overlays" / env)
        assert _model_repository(overlay) == record["uris"]["model_repository"]
        # Terraform: the state store, the module's names and the cost labels
        backend = _backend(project, env)
        assert {key: backend[key] for key in record["state"]} == record["state"]
        tfvars = json.loads((project / "infra" / "envs" / env / "terraform.tfvars.json").read_text(encoding="utf-8"))
        assert tfvars["names"] == record["resources"]
        labels = record["labels"]
        assert (tfvars["project"], tfvars["environment"], tfvars["owner"], tfvars["cost_center"], tfvars["model"]) == (
            labels["project"], labels["environment"], labels["owner"], labels["cost-center"], labels["model"]
        )  # fmt: skip

    # nothing names a bucket the old way (slug-only names that no Terraform created)
    slug = platform["project"]["slug"]
    stale = re.compile(rf"(s3|gs)://{slug}-(models|inference-log)\b|\"{slug}-tfstate\"|{slug.replace('-', '')}\.dfs")
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".tf", ".json", ".md", ".py"):
            assert not stale.search(path.read_text(encoding="utf-8", errors="ignore")), path
