"""Dotted-key overrides of a run configuration: ``--set params.lr=1e-4``.

A key names one entry of the run config (schema in :mod:`neurosim.training.config`):

* a top-level key: ``epochs``, ``seed``, ``batch_size``, ``subset``, ...;
* a schedule key: ``schedule.epochs_fb``, ``schedule.extra_fb_epochs``;
* a model parameter: ``params.lr``, ``params.size_hidden``, ... (the fields of the
  model's Config dataclass, e.g. :class:`~neurosim.models.dfc.config.DFCConfig`);
* a data option of the task: ``data_options.horizon``, ... (``TaskSpec.data_options``).

On the command line the value is parsed by the YAML loader of the config files
(:func:`neurosim.training.config.safe_load`), so ``--set params.lr=1e-4`` gives the same
float as the line ``lr: 1e-4`` in a file, ``[256, 256]`` a list and ``null`` None.
Sweeps pass already-typed values (:func:`apply_overrides` with a mapping).

Every override is checked before anything runs: an unknown key names the key and lists
the keys that exist; a value of the wrong type names the expected type (from the
dataclass field's annotation). The result is then validated as a config file is:
:class:`~neurosim.training.config.RunConfig`'s own checks, and the model's Config (the
model is built once on a tiny task by :func:`check_model_params`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import yaml

from neurosim.training.config import (
    ConfigError,
    RunConfig,
    Schedule,
    config_from_dict,
    get_task_spec_checked,
    safe_load,
)

#: top-level keys that are sections: only their entries can be set
SECTIONS = ("schedule", "params", "data_options")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"params.lr=1e-4"`` -> ``("params.lr", 1e-4)`` (the value read as YAML)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"--set {text!r}: expected KEY=VALUE with a dotted config key, e.g. "
            "--set params.lr=1e-4 or --set schedule.epochs_fb=5"
        )
    try:
        value = safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML: {err}") from None
    return key, value


def add_set_option(parser: Any, applies_to: str = "the run") -> None:
    """Add the repeatable ``--set KEY=VALUE`` option (``args.overrides``, a list of
    strings for :func:`parse_assignments`) to an argparse ``parser``."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"set a config key of {applies_to} by its dotted name, e.g. params.lr=1e-4 or "
        "schedule.epochs_fb=5 (value read as YAML; repeatable; applied after the flags)",
    )


def parse_assignments(texts: Iterable[str]) -> dict[str, Any]:
    """Parse several ``KEY=VALUE`` strings (a later one wins for the same key)."""
    out: dict[str, Any] = {}
    for text in texts:
        key, value = parse_assignment(text)
        out[key] = value
    return out


def apply_overrides(
    cfg: RunConfig, overrides: Mapping[str, Any], source: str = "--set"
) -> RunConfig:
    """A copy of ``cfg`` with the dotted-key ``overrides`` applied and validated.

    Parameters
    ----------
    cfg
        The base run configuration.
    overrides
        Dotted key -> typed value (see the module docstring).
    source
        Named in error messages (``--set``, a sweep spec, ...).

    Raises
    ------
    ConfigError
        For an unknown key (the message lists the keys that exist), a value of the
        wrong type, or a configuration the run config or the model rejects.
    """
    if not overrides:
        return cfg
    data = cfg.to_dict()
    ordered = sorted(overrides.items(), key=lambda kv: kv[0].count("."))  # top level first
    for key, value in ordered:
        section, _, name = key.partition(".")
        if not name:
            _check_top_level(key, value, source)
            data[key] = value
        elif section == "schedule":
            _check_field(Schedule, "schedule", name, value, source)
            data["schedule"] = {**(data.get("schedule") or {}), name: value}
        elif section == "params":
            _check_param(data["model"], data["dataset"], name, value, source)
            data["params"] = {**(data.get("params") or {}), name: value}
        elif (
            section == "data_options"
            and name in get_task_spec_checked(data["dataset"]).data_options
        ):
            data["data_options"] = {**(data.get("data_options") or {}), name: value}
        else:
            raise ConfigError(
                f"{source} {key}: unknown key; {_close(key, settable_keys(cfg))}settable "
                f"keys are {', '.join(settable_keys(cfg))}"
            )
    new = config_from_dict(data, source=source)
    if any(k.startswith("params.") or k in ("model", "dataset") for k in overrides):
        check_model_params(new, source)
    return new


def settable_keys(cfg: RunConfig) -> list[str]:
    """Every dotted key of ``cfg`` that ``--set`` accepts."""
    top = [f.name for f in dataclasses.fields(RunConfig) if f.name not in SECTIONS]
    sched = [f"schedule.{f.name}" for f in dataclasses.fields(Schedule)]
    schema = model_param_schema(cfg.model, cfg.dataset)
    names = sorted(schema) if schema is not None else sorted(cfg.model_params())
    data = sorted(get_task_spec_checked(cfg.dataset).data_options)
    return [*top, *sched, *(f"params.{n}" for n in names), *(f"data_options.{n}" for n in data)]


def check_model_params(cfg: RunConfig, source: str = "config") -> None:
    """Build ``cfg.model`` with ``cfg``'s params on a tiny task so that its Config
    validates them now (unknown parameter, bad value), before any training starts."""
    from neurosim.models import registry

    try:
        # only errors matter here: the model built for training warns (e.g. a clipped
        # time constant) once, where the warning belongs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            registry.create(cfg.model, _tiny_task(cfg.dataset), cfg.model_params(), seed=cfg.seed)
    except (ValueError, TypeError, KeyError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise ConfigError(f"{source}: model {cfg.model!r} rejects its params: {msg}") from None


@lru_cache(maxsize=64)
def model_param_schema(model: str, dataset: str) -> dict[str, Any] | None:
    """Parameter name -> type annotation of ``model``'s Config dataclass (the ``cfg``
    attribute of a model built with default params on a tiny task); ``None`` when the
    model exposes no dataclass config (its factory then validates alone)."""
    from neurosim.models import registry

    spec = get_task_spec_checked(dataset)
    try:
        built = registry.create(model, _tiny_task(dataset), dict(spec.architecture))
    except KeyError as err:
        raise ConfigError(err.args[0] if err.args else str(err)) from None
    except (ValueError, TypeError):
        return None
    cfg = getattr(built, "cfg", None)
    if cfg is None or not dataclasses.is_dataclass(cfg):
        return None
    return _field_types(type(cfg))


# -- checks ---------------------------------------------------------------------------
def _check_top_level(key: str, value: Any, source: str) -> None:
    if key in SECTIONS:
        example = "schedule.epochs_fb=5" if key == "schedule" else "params.lr=1e-4"
        raise ConfigError(
            f"{source} {key}: {key!r} is a section; set its entries one by one, e.g. {example}"
        )
    _check_field(RunConfig, "", key, value, source)


def _check_field(cls: type, prefix: str, name: str, value: Any, source: str) -> None:
    types_ = _field_types(cls)
    shown = [k for k in types_ if not (cls is RunConfig and k in SECTIONS)]
    key = f"{prefix}.{name}" if prefix else name
    if name not in types_ or (cls is RunConfig and name in SECTIONS):
        keys = [f"{prefix}.{k}" if prefix else k for k in shown]
        extra = "" if prefix else ", schedule.NAME, params.NAME"
        raise ConfigError(
            f"{source} {key}: unknown key; {_close(key, keys)}settable keys are "
            f"{', '.join(keys)}{extra}"
        )
    _check_type(key, types_[name], value, source, f"{cls.__name__}.{name}")


def _check_param(model: str, dataset: str, name: str, value: Any, source: str) -> None:
    schema = model_param_schema(model, dataset)
    if schema is None:
        return  # the model's factory validates (check_model_params)
    if name not in schema:
        keys = [f"params.{k}" for k in sorted(schema)]
        raise ConfigError(
            f"{source} params.{name}: model {model!r} has no parameter {name!r}; "
            f"{_close(f'params.{name}', keys)}its parameters are {', '.join(keys)}"
        )
    _check_type(f"params.{name}", schema[name], value, source, f"{model} parameter {name}")


def _check_type(key: str, annotation: Any, value: Any, source: str, what: str) -> None:
    if not _accepts(annotation, value):
        raise ConfigError(
            f"{source} {key}={value!r}: expected {_type_text(annotation)} ({what}), "
            f"got {_value_type_text(value)}"
        )


def _value_type_text(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value:
        inner = sorted({type(v).__name__ for v in value})
        return f"{type(value).__name__} of {'/'.join(inner)}"
    return type(value).__name__


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether ``value`` (as read from YAML) fits the field type ``annotation``."""
    if annotation is Any or isinstance(annotation, str):
        return True  # unresolved or open annotation: the Config itself decides
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (tuple, list) or annotation in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return not args or all(_accepts(args[0], v) for v in value)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if dataclasses.is_dataclass(annotation):
        return isinstance(value, dict)
    return True


def _type_text(annotation: Any) -> str:
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved annotation (the string when it cannot be resolved)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - a foreign Config with exotic annotations
        hints = {}
    return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(cls)}


def _close(key: str, keys: list[str]) -> str:
    near = difflib.get_close_matches(key, keys, n=1)
    return f"did you mean {near[0]}? " if near else ""


def _tiny_task(dataset: str) -> Any:
    """A 4-input task of ``dataset``'s kind (autoencoder: 4 outputs) to build models on."""
    from neurosim.models.base import Task

    spec = get_task_spec_checked(dataset)
    n_out = 4 if spec.autoencoder else 3
    return Task(kind=spec.kind, n_in=4, n_out=n_out)


__all__ = [
    "add_set_option",
    "apply_overrides",
    "check_model_params",
    "model_param_schema",
    "parse_assignment",
    "parse_assignments",
    "settable_keys",
]
