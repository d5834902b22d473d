"""Copier Jinja extension: exposes the decision engine to copier.yml and the templates.

Loaded by `copier-template-extensions` (copier.yml `_jinja_extensions`). Templates read
`decisions.*`; validators call `answer_error(...)`; question defaults call the `recommended_*`
functions. No decision logic lives in Jinja.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import hashlib
import importlib.util
import os
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import jinja2
import yaml
from copier_template_extensions import ContextHook
from jinja2 import FileSystemBytecodeCache, pass_context
from jinja2.bccache import Bucket

ENGINE_DIR = Path(__file__).resolve().parent / "platform_engine"


def _engine_fingerprint(folder: Path) -> str:
    """A hash of the engine's folder and of its code and tables."""
    digest = hashlib.sha256(str(folder).encode() + b"\0")
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_engine(folder: Path = ENGINE_DIR) -> ModuleType:
    """The decision engine of *this* template checkout, as its own package.

    `copier update` renders the old and the new release in one process. A plain
    `import platform_engine` would hand the second render the first release's engine (and its
    cached tables) from `sys.modules`, so each checkout's engine is loaded under a name derived from
    its folder and contents (`platform_engine_<hash>`); the engine imports its own modules
    relatively. The folder counts too: Copier deletes a checkout after rendering it, and the engine
    reads its tables lazily from its own folder.
    """
    name = f"platform_engine_{_engine_fingerprint(folder)}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the decision engine from {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


if TYPE_CHECKING:  # the checker reads the engine as the plain package
    from platform_engine import (
        ENGINE_VERSION,
        AnswerError,
        Answers,
        decide,
        default_drift_threshold,
        default_project_name,
        field_error,
        package_from_slug,
        recommended_hosting,
        recommended_pattern,
        recommended_precision,
        slugify,
    )
    from platform_engine.model_choice import offers_choice
    from platform_engine.naming import default_resource_suffix
else:
    engine = load_engine()
    ENGINE_VERSION = engine.ENGINE_VERSION
    AnswerError = engine.AnswerError
    Answers = engine.Answers
    decide = engine.decide
    default_drift_threshold = engine.default_drift_threshold
    default_project_name = engine.default_project_name
    field_error = engine.field_error
    package_from_slug = engine.package_from_slug
    recommended_hosting = engine.recommended_hosting
    recommended_pattern = engine.recommended_pattern
    recommended_precision = engine.recommended_precision
    slugify = engine.slugify
    offers_choice = sys.modules[f"{engine.__name__}.model_choice"].offers_choice
    default_resource_suffix = sys.modules[f"{engine.__name__}.naming"].default_resource_suffix

ANSWER_KEYS = tuple(Answers.field_names())
REQUIRED_FOR_DECISIONS = ("project_name", "use_case", "monthly_requests", "peak_rps", "latency_p95_ms", "cloud")


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and value and all(isinstance(i, tuple) and len(i) == 2 for i in value):
        return {k: _thaw(v) for k, v in value}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


# `--data key=value` answers stay strings until Copier reaches their question; the engine needs
# them typed whenever a render happens earlier (validators, `copier update`).
_TYPED: dict[str, type] = {
    "monthly_requests": int,
    "latency_p95_ms": int,
    "peak_rps": float,
    "model_size_b": float,
    "drift_threshold": float,
    "ml_team": bool,
}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _typed(key: str, value: Any) -> Any:
    cast = _TYPED.get(key)
    if cast is None or not isinstance(value, str):
        return value
    if cast is bool:
        return _BOOLEANS.get(value.strip().lower(), value)
    try:
        return int(float(value)) if cast is int else cast(value)
    except ValueError:
        return value  # the validator names the field and the fix


def _answers_from(context: dict[str, Any]) -> dict[str, Any]:
    data = {key: _typed(key, context[key]) for key in ANSWER_KEYS if key in context and context[key] is not None}
    if isinstance(data.get("price_overrides"), str):
        data["price_overrides"] = yaml.safe_load(data["price_overrides"]) or {}
    return data


@lru_cache(maxsize=64)
def _decide_frozen(frozen: tuple[Any, ...]) -> dict[str, Any]:
    answers = Answers.from_mapping(_thaw(frozen))
    return decide(answers).to_dict()


# The answers of the last render and their decisions. Copier builds a render context about 3,300
# times in a default copy (every path part, the answers file's path, every file) with the same
# answers: comparing the raw values is cheaper than typing and freezing them for the cache each time.
_last_render: list[Any] = [None, None]


def decisions_for(context: dict[str, Any]) -> dict[str, Any]:
    """Decisions for a (complete) set of answers, cached: Copier renders many files per run."""
    raw = [context.get(key) for key in ANSWER_KEYS]
    if raw == _last_render[0]:
        return _last_render[1]
    decided = _decide_frozen(_freeze(_answers_from(context)))
    _last_render[:] = [copy.deepcopy(raw), decided]
    return decided


def _partial_answers(context: dict[str, Any]) -> Answers:
    """Answers given so far, defaults for the rest (for question defaults mid-questionnaire)."""
    data = _answers_from(context)
    known = {k: v for k, v in data.items() if not field_error(k, v, data)}
    if "environments" in known:
        known["environments"] = tuple(known["environments"])
    return Answers(**known)


@pass_context
def _answer_error(context: Any, name: str, value: Any) -> str:
    """Validator helper: the message for one answer, checked against the answers given so far."""
    return field_error(name, value, {**context.get_all(), name: value})


@pass_context
def _recommended_hosting(context: Any) -> str:
    return recommended_hosting(_partial_answers(context.get_all()))


@pass_context
def _recommended_pattern(context: Any) -> str:
    return recommended_pattern(_partial_answers(context.get_all()))


@pass_context
def _recommended_precision(context: Any) -> str:
    answers = _partial_answers(context.get_all())
    return recommended_precision(answers, answers.serving_pattern or recommended_pattern(answers))


class _LiteralCompiler:
    """Code for template strings without any template syntax, without running Jinja's compiler.

    Most of the strings Copier compiles are path parts with no Jinja in them (`data`, `etl.py`: 380
    of a default render's 480 distinct strings, a third of its compile time, and as many bytecode
    cache files on a first copy). Jinja turns such a string into the same small module every time,
    differing only in the one literal it yields, so this takes Jinja's own output for a sentinel
    once and swaps the literal in; Python compiles that in microseconds. A string qualifies only
    when no delimiter, line prefix or newline could make Jinja read it as anything but text, and the
    extensions' `preprocess` leaves it unchanged (they still run, for their side effects).
    """

    SENTINEL = "\0mlops-scaffold-literal\0"

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.markers = [
            environment.block_start_string,
            environment.variable_start_string,
            environment.comment_start_string,
            *(p for p in (environment.line_statement_prefix, environment.line_comment_prefix) if p),
            "\n",
            "\r",
        ]
        self._module: str | None = None

    def module(self) -> str:
        if self._module is None:
            # The class's compile: the instance's may be wrapped (memoized, or counted in tests).
            generated = jinja2.Environment.compile(self.environment, self.SENTINEL, raw=True)
            self._module = generated if generated.count(repr(self.SENTINEL)) == 1 else ""
        return self._module

    def code(self, source: str, filename: str | None) -> Any:
        """The compiled code for `source`, or None when Jinja must compile it."""
        if not source or any(marker in source for marker in self.markers) or not self.module():
            return None
        if self.environment.preprocess(source, None, filename) != source:
            return None
        generated = self.module().replace(repr(self.SENTINEL), repr(source))
        return compile(generated, filename or "<template>", "exec")


def memoize_compile(environment: Any) -> None:
    """Compile each distinct template string once per Copier run.

    Copier compiles every path part with `from_string`, and the answers file's path once per part:
    a default render compiled 2,262 strings of which 419 were distinct (0.6 s of its 1.6 s of CPU,
    measured with ci/bench_render.py). Jinja caches templates loaded by name, not strings, so the
    environment remembers the code of each string it compiled, and keeps a string's code in the
    environment's bytecode cache when it has one (`TemplateCodeCache`: the same path parts come back
    in every copy). The extensions' `preprocess` hooks still run on every compile, also from a
    cache, for their side effects (Copier's `yield` tag resets its state there).
    """
    compile_ = environment.compile
    compiled: dict[tuple[Any, ...], Any] = {}
    literal = _LiteralCompiler(environment)

    def cached_code(source: str, filename: str | None) -> Any:
        """A plain template string's code: from the bytecode cache, compiled into it on a miss."""
        cache = environment.bytecode_cache
        if cache is None:
            return compile_(source, None, filename)
        bucket = cache.get_bucket(environment, "<string>", None, source)
        if bucket.code is None:
            bucket.code = compile_(source, None, filename)
            cache.set_bucket(bucket)
        else:
            environment.preprocess(source, None, filename)
        return bucket.code

    def compile_once(
        source: Any, name: str | None = None, filename: str | None = None, raw: bool = False, defer_init: bool = False
    ) -> Any:
        if not isinstance(source, str):
            return compile_(source, name, filename, raw, defer_init)
        key = (source, name, filename, raw, defer_init)
        if key in compiled:
            environment.preprocess(source, name, filename)
            return compiled[key]
        if raw or defer_init or name is not None:  # not a plain template string: Jinja compiles it
            code = compiled[key] = compile_(source, name, filename, raw, defer_init)
            return code
        compiled[key] = literal.code(source, filename) or cached_code(source, filename)
        return compiled[key]

    environment.compile = compile_once


# What the code Jinja compiles a template into depends on, besides the source: its version (the
# cache's own header covers Python's and Jinja's bytecode format) and these environment settings.
_JINJA_VERSION = getattr(jinja2, "__version__", "unknown")
_CODE_OPTIONS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "autoescape",
    "intercepted_binops",
    "intercepted_unops",
)


class TemplateCodeCache(FileSystemBytecodeCache):
    """Jinja's file bytecode cache, keyed by what the compiled code depends on.

    Jinja's own key is the template's name and file path, but Copier renders each run from a fresh
    clone in a new temporary folder, so the path never repeats. Here the key is Jinja's version, the
    environment's syntax (its class, extensions and lexer options), the template's name and its
    source: a template compiled once on a machine is loaded, not compiled, by every later copy or
    update, and a changed template (another release, an edit) gets its own entry. By default the
    entries live in Jinja's per-user temporary folder (`_jinja2-cache-<uid>`), written atomically. A
    cache must never break a render: entries that cannot be read or written are compiled instead.
    Each release adds a few MB of entries, so `prune()` drops the ones written more than
    `MAX_AGE_DAYS` ago (a template still in use is compiled again once).
    """

    PREFIX = "__mlops_scaffold_"
    MAX_AGE_DAYS = 30

    def __init__(self, directory: str | None = None) -> None:
        super().__init__(directory, pattern=self.PREFIX + "%s.cache")

    def prune(self, now: float | None = None) -> int:
        """Delete this cache's entries older than MAX_AGE_DAYS; returns how many went."""
        oldest = (time.time() if now is None else now) - self.MAX_AGE_DAYS * 86400
        removed = 0
        with contextlib.suppress(OSError), os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.startswith(self.PREFIX) and entry.stat().st_mtime < oldest:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        removed += 1
        return removed

    def get_bucket(self, environment: Any, name: str, filename: str | None, source: str) -> Bucket:
        syntax = [_JINJA_VERSION, type(environment).__qualname__, *sorted(environment.extensions)]
        syntax += [f"{option}={getattr(environment, option, None)!r}" for option in _CODE_OPTIONS]
        key = hashlib.sha256("\0".join([*syntax, name, source]).encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


@dataclass
class _RenderScope:
    """What Copier asks again for every file of one render although it cannot change meanwhile."""

    worker: Any
    file_modes: dict[Path, str | None] = field(default_factory=dict)
    answers_relpath: Path | None = None
    strings: dict[str, str] = field(default_factory=dict)


_RENDER: contextvars.ContextVar[_RenderScope | None] = contextvars.ContextVar("mlops_scaffold_render", default=None)


def _core_file_mode(root: Path) -> str | None:
    """The destination's `core.fileMode` as git reads it (None: unset, or not a git folder)."""
    from copier._vcs import get_git
    from plumbum import ProcessExecutionError

    try:
        return str(get_git(context_dir=root)("config", "--type=bool", "--get", "core.fileMode")).strip()
    except (OSError, ProcessExecutionError):
        return None


def _scope_for(worker: Any) -> _RenderScope | None:
    """The render scope of `worker`'s `_render_template`, if it is inside one."""
    scope = _RENDER.get()
    return scope if scope is not None and scope.worker is worker else None


def _file_mode_once(sync: Any) -> Any:
    @wraps(sync)
    def sync_executable_bit(self: Any, dst_relpath: Path, src_mode: int) -> None:
        scope = _scope_for(self)
        if scope is not None:
            root = Path(self.subproject.local_abspath)
            if root not in scope.file_modes:
                scope.file_modes[root] = _core_file_mode(root)
            if scope.file_modes[root] != "false":
                return  # git sees the on-disk chmod: Copier's method would return here too
        sync(self, dst_relpath, src_mode)

    return sync_executable_bit


def _answers_relpath_once(answers_relpath_of: Any) -> Any:
    @wraps(answers_relpath_of)
    def answers_relpath(self: Any) -> Path:
        scope = _scope_for(self)
        if scope is None:
            return answers_relpath_of(self)
        if scope.answers_relpath is None:
            scope.answers_relpath = answers_relpath_of(self)
        return scope.answers_relpath

    return answers_relpath


def _string_once(render_string: Any) -> Any:
    @wraps(render_string)
    def render_string_once(self: Any, string: str, extra_context: dict[str, Any] | None = None) -> str:
        scope = _scope_for(self)
        # A yield tag's render leaves the loop state Copier reads next: such a part renders every time.
        if scope is None or extra_context or not isinstance(string, str) or "yield" in string:
            return render_string(self, string, extra_context)
        if string in scope.strings:
            self.jinja_env.preprocess(string)  # what compiling it does: Copier's yield state resets
            return scope.strings[string]
        rendered = scope.strings[string] = render_string(self, string, extra_context)
        return rendered

    return render_string_once


def ask_once_per_render() -> bool:
    """Make Copier work out what it recomputes per file or path part once per render instead.

    While `Worker._render_template` writes the files, Copier 9.19 recomputes for every file and
    path part three things that stay the same until it returns (the answers are final by then):
    - `core.fileMode` of the destination (`_sync_git_index_executable_bit`, after each file): it
      starts `git config --get core.fileMode`, and only goes on (`git ls-files`, `git update-index`)
      when that says `false`; 204 git processes for this template's files, a fifth of a copy;
    - the answers file's path (`answers_relpath`), a Jinja render with a full render context,
      about 1,300 times in a default copy;
    - each path part (`_render_string`: `src`, `{{ package_name }}`, a family's folder condition),
      with a new render context each time: 1,586 renders of 259 distinct strings.
    Inside one `_render_template` each is now worked out once (the file mode per destination, a
    string only when rendered without extra context and without a `yield` tag, whose loop state
    Copier reads after the render), and Copier's own sync still runs wherever the file mode is
    `false`. A remembered string still goes through the extensions' `preprocess`, as compiling it
    would (Copier's yield tag resets its state there). Outside a render, for another worker, or
    with a Copier without one of these methods, that part of Copier's code runs unchanged. The
    template's paths use no impure function (time, randomness), so one render of a string stands
    for all. Returns whether the render scope is installed (`ci/bench_render.py` measures the
    difference; `tests/test_render_speed.py` checks each wrap on the locked Copier).
    """
    try:
        from copier._main import Worker
    except ImportError:
        return False
    render = getattr(Worker, "_render_template", None)
    sync = getattr(Worker, "_sync_git_index_executable_bit", None)
    render_string = getattr(Worker, "_render_string", None)
    answers_file = Worker.__dict__.get("answers_relpath")
    if render is None:
        return False
    if getattr(render, "__wrapped__", None) is not None:
        return True

    @wraps(render)
    def render_template(self: Any) -> Any:
        token = _RENDER.set(_RenderScope(self))
        try:
            return render(self)
        finally:
            _RENDER.reset(token)

    Worker._render_template = render_template
    if sync is not None:
        Worker._sync_git_index_executable_bit = _file_mode_once(sync)
    if render_string is not None:
        Worker._render_string = _string_once(render_string)
    if isinstance(answers_file, property) and answers_file.fget is not None:
        Worker.answers_relpath = property(_answers_relpath_once(answers_file.fget), doc=answers_file.__doc__)  # type: ignore[method-assign,assignment]
    return True


@lru_cache(maxsize=1)
def code_cache() -> TemplateCodeCache | None:
    """The machine's template code cache (pruned once a process), or none where no safe temporary
    folder exists."""
    try:
        cache = TemplateCodeCache()
    except (OSError, RuntimeError):  # Jinja refuses a temporary folder that others could write
        return None
    cache.prune()
    return cache


class DecisionEngine(ContextHook):
    """Adds `decisions` to every render context, and engine helpers as Jinja globals."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        memoize_compile(environment)
        ask_once_per_render()
        if environment.bytecode_cache is None:
            environment.bytecode_cache = code_cache()
        environment.globals.update(
            answer_error=_answer_error,
            recommended_hosting=_recommended_hosting,
            recommended_pattern=_recommended_pattern,
            recommended_precision=_recommended_precision,
            offers_accuracy_choice=offers_choice,
            slugify=slugify,
            package_from_slug=package_from_slug,
            engine_version=ENGINE_VERSION,
            default_drift_threshold=default_drift_threshold,
            default_project_name=default_project_name,
            default_resource_suffix=default_resource_suffix,
        )
        environment.filters["to_nice_yaml_block"] = lambda value: yaml.safe_dump(
            value, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
        )

    def hook(self, context: dict[str, Any]) -> None:
        if not all(key in context for key in REQUIRED_FOR_DECISIONS):
            return  # still in the questionnaire
        try:
            context["decisions"] = decisions_for(context)
        except AnswerError:
            return  # validators report the field; nothing renders with bad answers
