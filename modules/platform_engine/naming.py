"""Cloud resource names: every name the project's cloud resources carry, decided once.

The rules are data (data/naming.yaml): per cloud and kind of resource, the allowed characters, the
length limits, whether the name is global (one namespace for every customer of the cloud), and what
the cloud forbids in it. The names land in platform.yaml (`decisions.names`), and the templates
render every place from that record: platform.yaml's URIs, the Kustomize overlays, backend.tf and
terraform.tfvars.json (the Terraform modules validate the limits but compute no name).

A global name ends with the project's resource suffix (the `resource_suffix` answer, by default the
first hex digits of sha256 of the project name), so two projects whose names shorten to the same
text still get different names. Shortening only ever cuts the slug, never the suffix.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import TYPE_CHECKING, Any

from .tables import table

if TYPE_CHECKING:
    from .answers import Answers

FIELDS = re.compile(r"\{(\w+)\}")


class NamingError(ValueError):
    """A name the cloud would refuse (too long, a forbidden word); the message says which."""


def default_resource_suffix(project_name: str) -> str:
    """The resource suffix of a project that did not choose one: stable for the same name."""
    digits = int(table("naming")["suffix"]["hex_digits"])
    return hashlib.sha256(project_name.encode("utf-8")).hexdigest()[:digits]


def suffix_error(value: Any) -> str:
    """The `resource_suffix` answer: empty (derived) or 4-8 lowercase letters and digits."""
    rule = table("naming")["suffix"]
    low, high = int(rule["min_length"]), int(rule["max_length"])
    text = "" if value is None else str(value)
    if text and not re.fullmatch(rf"[a-z0-9]{{{low},{high}}}", text):
        return (
            f"resource_suffix={text!r} is not valid; use {low}-{high} lowercase letters and digits "
            f"(e.g. a1b2c3), or leave it empty for the default derived from the project name"
        )
    return ""


def label_value(raw: str) -> str:
    """A cost tag / label value: accents transliterated, lowercase, runs of other characters as
    '-', cut to the length limit, no '-' at either end; empty becomes the table's `empty` value.
    The cost_tags module's own normalisation leaves such a value unchanged."""
    rule = table("naming")["labels"]
    chars, limit, empty = str(rule["chars"]), int(rule["max_length"]), str(rule["empty"])
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(rf"[^{chars}]+", "-", text)[:limit].strip("-") or empty


def cost_labels(slug: str, env: str, owner: str, cost_center: str, model: str) -> dict[str, str]:
    """The cost tags every resource of `env` carries, as the clouds store them."""
    return {
        "project": label_value(slug),
        "environment": label_value(env),
        "owner": label_value(owner),
        "cost-center": label_value(cost_center),
        "managed-by": label_value(str(table("naming")["labels"]["managed_by"])),
        "model": label_value(model),
    }


def build_name(template: str, rule: dict[str, Any], fields: dict[str, str], suffix: str) -> str:
    """One name of a kind (`rule`): the template's fields in the kind's characters, the slug cut to
    fit, the suffix appended when the name is global. Raises NamingError when it cannot fit."""
    chars = str(rule["chars"])
    drop = re.compile(rf"[^{chars}]")
    values = {key: drop.sub("", value) for key, value in fields.items()}
    global_ = bool(rule["global"])
    hyphen = chars.endswith("-")  # a literal '-' closes the character class ("a-z0-9-")
    tail = (("-" if hyphen else "") + suffix) if global_ else ""
    fixed = FIELDS.sub(lambda m: "" if m.group(1) == "slug" else values[m.group(1)], template)
    room = int(rule["max_length"]) - len(fixed) - len(tail)
    if "slug_max" in rule:
        room = min(room, int(rule["slug_max"]))
    slug = values.get("slug", "")[: max(room, 0)].rstrip("-_")
    if "{slug}" in template and not slug:
        raise NamingError(f"no room for the project slug in a {template!r} name of {rule['max_length']} characters")
    name = FIELDS.sub(lambda m: slug if m.group(1) == "slug" else values[m.group(1)], template) + tail
    _check(name, rule)
    return name


def _check(name: str, rule: dict[str, Any]) -> None:
    low, high, chars = int(rule["min_length"]), int(rule["max_length"]), str(rule["chars"])
    if not re.fullmatch(rf"[a-z0-9]([{chars}]*[a-z0-9])?", name) or "--" in name:
        raise NamingError(f"{name!r} must be {chars} only, start and end with a letter or digit, no '--'")
    if not low <= len(name) <= high:
        raise NamingError(f"{name!r} has {len(name)} characters; the limit is {low}-{high}")
    forbidden = rule.get("forbidden") or {}
    for prefix in forbidden.get("prefixes", []):
        if name.startswith(prefix):
            raise NamingError(f"{name!r} may not start with {prefix!r}")
    for word in forbidden.get("words", []):
        if word in name:
            raise NamingError(f"{name!r} may not contain {word!r}")


def _names(spec: dict[str, Any], kinds: dict[str, Any], fields: dict[str, str], suffix: str) -> dict[str, str]:
    """Each entry of a `resources`/`state` spec: a name of its kind, or a plain template (a key)."""
    out: dict[str, str] = {}
    for key, entry in spec.items():
        if isinstance(entry, str):
            out[key] = entry.format(**fields)
        else:
            out[key] = build_name(str(entry["template"]), kinds[entry["kind"]], fields, suffix)
            if key == "prefix":
                fields = {**fields, "prefix": out[key]}
    return out


def environment_names(cloud: str, slug: str, env: str, suffix: str) -> dict[str, Any]:
    """The names of one environment: Terraform's `names` input, its state, the platform's URIs."""
    rules = table("naming")["clouds"][cloud]
    fields = {"slug": slug, "env": env}
    resources = _names(rules["resources"], rules["kinds"], fields, suffix)
    state = _names(rules["state"], rules["kinds"], fields, suffix)
    uris = {key: str(template).format(**resources) for key, template in rules["uris"].items()}
    return {"resources": resources, "state": state, "uris": uris}


def names_error(slug: str, cloud: str, suffix: str, environments: tuple[str, ...] = ("dev", "prod")) -> str:
    """Why this slug cannot name the cloud's resources, or "" (for the answers' validation)."""
    try:
        for env in environments:
            environment_names(cloud, slug, env, suffix)
    except NamingError as error:
        return str(error)
    return ""


def main_environment(environments: tuple[str, ...]) -> str:
    """The environment whose names platform.yaml's single URIs carry: prod when provisioned."""
    return "prod" if "prod" in environments else environments[0]


def decide_names(answers: Answers, model: str) -> dict[str, Any]:
    """Every resource name, per provisioned environment, with the normalised cost labels."""
    suffix = answers.suffix
    error = suffix_error(suffix)
    if error:
        raise NamingError(error)
    environments = {}
    for env in answers.environments:
        names = environment_names(answers.cloud, answers.slug, env, suffix)
        names["labels"] = cost_labels(answers.slug, env, answers.owner, answers.cost_center, model)
        environments[env] = names
    main = main_environment(answers.environments)
    derived = suffix == default_resource_suffix(answers.project_name)
    origin = "from sha256 of the project name" if derived else "the resource_suffix answer"
    return {
        "suffix": suffix,
        "reason": (
            f"because names in a cloud-wide namespace (buckets, storage accounts, DNS names) must be unique: "
            f"they end with {suffix!r} ({origin}), which shortening never cuts"
        ),
        "main_environment": main,
        "uris": dict(environments[main]["uris"]),
        "environments": environments,
    }
