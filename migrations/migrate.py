"""Update-time migrations of a generated project, run by `copier update` (copier.yml `_migrations`).

Plain Python; Copier runs it with its own interpreter (`_copier_python`) in the project folder.
Copier decides *whether* a step runs (the migration's `version` and `when`); this script does the
step, idempotently, and prints what it did:

    migrate.py rename-answer OLD NEW [--answers-file F]   stage before, declared with a `version`
    migrate.py forget-derived-description [--answers-file F]
                                                          stage before, declared for 0.6.0
    migrate.py pin-old-slug [--answers-file F]           stage before, declared for 0.6.0
    migrate.py names-notice [--platform F]                stage after, declared for 0.7.0
    migrate.py preflight --template SRC [--ref REF] [--data JSON] [--answers-file F]
                                                          stage before, every update, last
    migrate.py keep-changed [--answers-file F]            stage after, every update

rename-answer
    Renames a top-level key of the answers file, so the new version renders with the value the
    user gave under the old name (Copier reloads the answers file after the `before` stage).
    When NEW is already set, OLD is dropped; when OLD is missing, nothing changes.

forget-derived-description
    Up to 0.5.0 the `description` question's default was rendered from the name and the cloud
    ("X: an ML platform on AWS, ...") and stored in the answers of tuned projects, so a later
    `--data cloud=gcp` kept "on AWS". Since 0.6.0 an empty answer means "derive it"; this step empties
    a stored description that is exactly the old derived text, and leaves a written one alone.

pin-old-slug
    0.6.0 transliterates accents when it derives the slug (`Café` -> `cafe`, before: `caf`). A
    project whose name has such letters and whose slug was derived would be renamed by the update:
    its package folder and every cloud resource name. This step keeps the old names: it stores the
    old slug and package in the answers file and sets `tune: true` (Copier only keeps answers to
    questions that are asked; `tune` asks the advanced ones, whose defaults are unchanged).

names-notice
    0.7.0 names cloud resources in the decision engine (platform.yaml `decisions.names`): global
    names end with the project's resource suffix instead of the account id, project number or a
    random string, and the state store's name has the suffix too. A stack deployed with an earlier
    release keeps its names with two files of the user's: `infra/envs/<env>/backend.hcl` (the old
    state store) and `infra/envs/<env>/names.auto.tfvars.json` (`name_overrides`). This step
    changes nothing; it prints what those files hold for this project, the parts only the deployed
    stack knows (account id, project number, Azure's random names) as placeholders.

preflight
    Copier writes the new version straight into the project: a render that fails half-way leaves
    files rewritten and the answers file claiming the new version. So before Copier touches the
    project, `preflight` renders the new version with the project's answers (and the update's
    `--data`) into a temporary folder, in a process of its own, and stops the update with the error
    and the way back when that render fails. Nothing in the project has changed at that point
    except what earlier `before` migrations wrote to the answers file.

keep-changed
    Copier deletes every file that the new version no longer renders (a file the template removed,
    or a conditional file whose answer changed), even when the user changed it. After the update,
    when it deleted files, `keep-changed` renders the previous version (template ref and answers
    from the last commit) and puts back, from git HEAD, each deleted file that the user had
    changed, and says so. Files the user did not change disappear with the template.

Copier passes the update's context in the environment: $STAGE, $VERSION_PEP440_FROM,
$VERSION_PEP440_TO and, for a migration declared with a `version`, $VERSION_PEP440_CURRENT.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ANSWERS_FILE = Path(".copier-answers.yml")


def _say(message: str, *, error: bool = False) -> None:
    env = os.environ
    context = f"{env.get('STAGE', '?')} {env.get('VERSION_PEP440_FROM', '?')} -> {env.get('VERSION_PEP440_TO', '?')}"
    if env.get("VERSION_PEP440_CURRENT"):
        context += f", declared for {env['VERSION_PEP440_CURRENT']}"
    print(f"migration [{context}]: {message}", file=sys.stderr if error else sys.stdout, flush=True)


# ----------------------------------------------------------------------------- rename-answer
def _key_block(lines: list[str], key: str) -> tuple[int, int] | None:
    """[start, end) of a top-level `key:` and its indented or list continuation lines."""
    pattern = re.compile(rf"^{re.escape(key)}\s*:(\s|$)")
    for start, line in enumerate(lines):
        if pattern.match(line):
            end = start + 1
            while end < len(lines) and (lines[end][:1] in (" ", "\t") or lines[end].startswith("- ")):
                end += 1
            return start, end
    return None


def rename_answer(text: str, old: str, new: str) -> tuple[str, str]:
    """The answers file text with `old` renamed to `new`, and what was done: renamed, dropped or none."""
    lines = text.splitlines(keepends=True)
    old_block = _key_block(lines, old)
    if old_block is None:
        return text, "none"
    start, end = old_block
    if _key_block(lines, new) is not None:
        del lines[start:end]
        return "".join(lines), "dropped"
    lines[start] = re.sub(rf"^{re.escape(old)}(\s*):", rf"{new}\1:", lines[start], count=1)
    return "".join(lines), "renamed"


def cmd_rename_answer(old: str, new: str, answers_file: Path) -> int:
    if not answers_file.is_file():
        _say(f"{answers_file} not found; nothing to rename", error=True)
        return 1
    text, done = rename_answer(answers_file.read_text(encoding="utf-8"), old, new)
    if done != "none":
        answers_file.write_text(text, encoding="utf-8")
    _say(
        {
            "renamed": f"renamed answer {old!r} to {new!r} in {answers_file}",
            "dropped": f"dropped answer {old!r} from {answers_file} ({new!r} is already set)",
            "none": f"answer {old!r} not in {answers_file}; nothing to rename",
        }[done]
    )
    return 0


# -------------------------------------------------------------------------------- keep-changed
def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def _git_bytes(*args: str) -> bytes:
    return subprocess.run(["git", *args], capture_output=True, check=True).stdout


def deleted_files() -> list[str]:
    """Files in git's index that are missing from the working tree (what the update deleted)."""
    return sorted(set(filter(None, _git("ls-files", "--deleted", "-z").split("\0"))))


def _user_answers(loaded: dict[str, Any]) -> dict[str, Any]:
    """The answers of an answers file, without Copier's own `_` keys."""
    return {key: value for key, value in loaded.items() if not str(key).startswith("_")}


def _render(template: str, ref: str | None, answers: dict[str, Any], destination: Path, **options: Any) -> None:
    """`copier copy` of `template` at `ref` with `answers`, quietly, without tasks."""
    import copier  # this runs in Copier's own interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(
            template,
            str(destination),
            data=answers,
            vcs_ref=ref or None,
            defaults=True,
            unsafe=True,
            quiet=True,
            skip_tasks=True,
            **options,
        )


def render_previous(answers_file: Path, destination: Path) -> Path:
    """Render the template version and answers of the last commit (before this update) into `destination`."""
    import yaml  # a Copier dependency

    answers = yaml.safe_load(_git_bytes("show", f"HEAD:./{answers_file.as_posix()}")) or {}
    src, ref = answers.get("_src_path"), answers.get("_commit")
    if not src:
        raise ValueError(f"no _src_path in {answers_file}")
    _render(str(src), ref, _user_answers(answers), destination, answers_file=str(answers_file))
    return destination


def cmd_keep_changed(answers_file: Path) -> int:
    deleted = deleted_files()
    if not deleted:
        return 0
    with tempfile.TemporaryDirectory(prefix="copier-previous-") as folder:
        try:
            previous = render_previous(answers_file, Path(folder) / "project")
        except Exception as error:  # never fail the update over this; say what it means
            _say(
                f"could not render the previous version ({error}); {len(deleted)} removed file(s) stay removed: "
                "`git status` lists them, `git checkout HEAD -- <file>` brings one back",
                error=True,
            )
            return 0
        for relative in deleted:
            rendered = previous / relative
            if not rendered.is_file():
                continue  # not a template file: Copier did not remove it
            mine = _git_bytes("show", f"HEAD:./{relative}")
            if mine == rendered.read_bytes():
                continue  # unchanged: it goes with the template
            mode = _git("ls-files", "-s", "--", relative).split(" ", 1)[0]
            path = Path(relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(mine)
            if mode == "100755":
                path.chmod(0o755)
            _say(f"kept {relative}: the template no longer has it, but you changed it (delete it if unneeded)")
    return 0


# ------------------------------------------------------------------ forget-derived-description
OLD_DESCRIPTION = "{name}: an ML platform on {cloud}, generated by the MLOps scaffold generator."


def forget_derived_description(text: str) -> tuple[str, bool]:
    """The answers text with a stored, derived description emptied, and whether it changed."""
    import yaml  # a Copier dependency

    answers = yaml.safe_load(text) or {}
    stored = answers.get("description")
    derived = OLD_DESCRIPTION.format(name=answers.get("project_name", ""), cloud=str(answers.get("cloud", "")).upper())
    if stored != derived:
        return text, False
    lines = text.splitlines(keepends=True)
    start, end = _key_block(lines, "description") or (0, 0)
    lines[start:end] = ["description: ''\n"]
    return "".join(lines), True


def cmd_forget_derived_description(answers_file: Path) -> int:
    text, changed = forget_derived_description(answers_file.read_text(encoding="utf-8"))
    if changed:
        answers_file.write_text(text, encoding="utf-8")
        _say("the description was the derived default; it now follows the project name and cloud")
    return 0


# -------------------------------------------------------------------------------- pin-old-slug
def old_slugify(name: str) -> str:
    """The slug up to 0.5.0: non-ASCII letters were dropped, not transliterated."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", name.lower())).strip("-")


def new_slugify(name: str) -> str:
    """The slug the engine of this template derives (transliterating accents since 0.6.0)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "modules"))
    from platform_engine.answers import slugify  # a fresh process: this checkout's engine

    return slugify(name)


def pin_old_slug(text: str) -> tuple[str, str | None]:
    """The answers text with the old slug and package pinned when 0.6.0 would derive new ones."""
    import yaml  # a Copier dependency

    answers = yaml.safe_load(text) or {}
    name = str(answers.get("project_name", ""))
    if answers.get("project_slug") or old_slugify(name) == new_slugify(name):
        return text, None
    slug = old_slugify(name)
    lines = [line for line in text.splitlines(keepends=True) if not re.match(r"^(tune|package_name)\s*:", line)]
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines += ["tune: true\n", f"project_slug: {slug}\n", f"package_name: {slug.replace('-', '_')}\n"]
    return "".join(lines), slug


def cmd_pin_old_slug(answers_file: Path) -> int:
    text, slug = pin_old_slug(answers_file.read_text(encoding="utf-8"))
    if slug:
        answers_file.write_text(text, encoding="utf-8")
        _say(f"kept project_slug {slug!r} (0.6.0 would derive another from the accented name); tune is now true")
    return 0


# -------------------------------------------------------------------------------- names-notice
def old_names(cloud: str, slug: str, env: str) -> tuple[dict[str, str], dict[str, str]]:
    """What releases up to 0.6.0 named (backend settings, name_overrides) where 0.7.0 differs;
    <...> marks what only the deployed stack knows."""
    prefix = f"{slug[:20].rstrip('-')}-{env}"
    if cloud == "azure":
        backend = {"storage_account_name": f"{slug.replace('-', '')[:17]}tfstate"}
        account = (
            f"<storage account: {prefix.replace('-', '')[:16]} + 8 random characters, terraform output storage_account>"
        )
        overrides = {
            "storage_account": account,
            "registry": account,
            "postgres_server": f"psql-{prefix}",
            "redis_cache": f"redis-{prefix}",
        }
        return backend, overrides
    owner = "<account id>" if cloud == "aws" else "<project number>"
    backend = {"bucket": f"{slug}-tfstate"}
    overrides = {
        "artifacts_bucket": f"{prefix}-mlflow-artifacts-{owner}",
        "offline_bucket": f"{prefix}-feast-offline-{owner}",
    }
    return backend, overrides


def names_notice(platform: dict[str, Any]) -> list[str]:
    """The lines that tell a deployed project how to keep its names (empty without names)."""
    project = platform.get("project") or {}
    names = (platform.get("decisions") or {}).get("names") or {}
    cloud, slug = str(project.get("cloud", "")), str(project.get("slug", ""))
    lines = []
    for env, record in (names.get("environments") or {}).items():
        backend, overrides = old_names(cloud, slug, env)
        resources, state = record.get("resources", {}), record.get("state", {})
        backend = {key: value for key, value in backend.items() if state.get(key) != value}
        overrides = {key: value for key, value in overrides.items() if resources.get(key) != value}
        if backend:
            settings = "\n".join(f'{key} = "{value}"' for key, value in backend.items())
            lines.append(f"infra/envs/{env}/backend.hcl:\n{settings}")
        if overrides:
            lines.append(
                f"infra/envs/{env}/names.auto.tfvars.json:\n" + json.dumps({"name_overrides": overrides}, indent=2)
            )
    return lines


def cmd_names_notice(platform_file: Path) -> int:
    import yaml  # a Copier dependency

    if not platform_file.is_file():
        return 0
    lines = names_notice(yaml.safe_load(platform_file.read_text(encoding="utf-8")) or {})
    if lines:
        _say(
            "0.7.0 names cloud resources in the decision engine (platform.yaml decisions.names): buckets, "
            "storage accounts and database DNS names end with the project's resource suffix, and so does the "
            "state store. A project rendered before 0.7.0 whose stack is deployed keeps its names with these "
            "files of its own (docs/upgrading.md, '0.7.0: cloud resource names'); nothing was written:\n\n"
            + "\n\n".join(lines)
        )
    return 0


# ----------------------------------------------------------------------------------- preflight
RECOVERY = (
    "Your project is as it was before the update (apart from the answers file, if a migration renamed "
    "an answer): `git status` shows it, `git checkout -- .` undoes any change. If an update ever stops "
    "half-way, `git reset --hard HEAD && git clean -fd` brings back your last commit (Copier only updates "
    "a clean working tree, so nothing of yours is lost)."
)


def preflight_answers(answers_text: str, data_json: str) -> dict[str, Any]:
    """The answers the new version renders with: the answers file's, then the update's `--data`."""
    import yaml  # a Copier dependency

    return _user_answers(yaml.safe_load(answers_text) or {}) | (json.loads(data_json) if data_json else {})


def cmd_preflight(template: str, ref: str | None, data_json: str, answers_file: Path) -> int:
    answers = preflight_answers(answers_file.read_text(encoding="utf-8"), data_json)
    with tempfile.TemporaryDirectory(prefix="copier-preflight-") as folder:
        try:
            _render(template, ref, answers, Path(folder) / "project")
        except Exception as error:
            kind = type(error).__name__
            _say(
                f"the new version does not render with this project's answers ({kind}: {error}). "
                f"The update stopped before writing any file. {RECOVERY}",
                error=True,
            )
            return 1
    _say("the new version renders with this project's answers")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Update-time migrations of a generated project.")
    commands = parser.add_subparsers(dest="command", required=True)
    rename = commands.add_parser("rename-answer", help="rename an answer in the answers file")
    rename.add_argument("old")
    rename.add_argument("new")
    rename.add_argument("--answers-file", type=Path, default=ANSWERS_FILE)
    forget = commands.add_parser("forget-derived-description", help="before: empty a derived description")
    forget.add_argument("--answers-file", type=Path, default=ANSWERS_FILE)
    pin = commands.add_parser("pin-old-slug", help="before: keep a derived slug that 0.6.0 would change")
    pin.add_argument("--answers-file", type=Path, default=ANSWERS_FILE)
    notice = commands.add_parser("names-notice", help="after: how a deployed stack keeps its pre-0.7.0 names")
    notice.add_argument("--platform", type=Path, default=Path("platform.yaml"))
    check = commands.add_parser("preflight", help="before: render the new version first; stop if it fails")
    check.add_argument("--template", required=True)
    check.add_argument("--ref", default="")
    check.add_argument("--data", default="")
    check.add_argument("--answers-file", type=Path, default=ANSWERS_FILE)
    keep = commands.add_parser("keep-changed", help="after: restore removed files that the user had changed")
    keep.add_argument("--answers-file", type=Path, default=ANSWERS_FILE)
    args = parser.parse_args(argv)

    if args.command == "rename-answer":
        return cmd_rename_answer(args.old, args.new, args.answers_file)
    if args.command == "forget-derived-description":
        return cmd_forget_derived_description(args.answers_file)
    if args.command == "pin-old-slug":
        return cmd_pin_old_slug(args.answers_file)
    if args.command == "names-notice":
        return cmd_names_notice(args.platform)
    if args.command == "preflight":
        return cmd_preflight(args.template, args.ref, args.data, args.answers_file)
    return cmd_keep_changed(args.answers_file)


if __name__ == "__main__":
    raise SystemExit(main())
