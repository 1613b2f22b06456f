"""Run configuration: one YAML file per (model, dataset) cell.

Schema (``models/configs/{dataset}/{model}.yaml``)::

    model: bp              # registered model name (neurosim.models.registry)
    dataset: mnist         # see neurosim.training.tasks.TASKS
    epochs: 100
    batch_size: 128
    seed: 42               # determines initial weights, noise and data order
    dtype: float64         # float32 | float64
    val_size: 5000         # validation samples split off the training set (0: none)
    subset: null           # use only the first K training samples (after the split)
    device: cpu            # cpu | cuda | cuda:N
    threads: null          # torch intra-op threads while training (null: torch's setting)
    diagnostics: false     # call model.diagnostics() each epoch
    data_dir: null         # directory searched first for data files (read-only; null: none)
    divergence_factor: 1000.0  # stop when the smoothed loss grows this much (null: off)
    schedule: {epochs_fb: 0, extra_fb_epochs: 0}   # DFC App. F.2 / DFC.md §1.8
    params: {...}          # model hyperparameters, validated by the model's Config
    data_options: {}       # data set options over the task's defaults (e.g. horizon)

Only safe YAML is read (``yaml.safe_load``). Unknown keys at the top level or in
``schedule`` raise an error naming the key and the allowed ones; unknown keys in
``params`` are rejected by the model's own Config dataclass. Every value is checked
for its type and range; an error names the key, the value, what is expected and the
fix (:class:`ConfigError`). ``divergence_factor``: see
:mod:`neurosim.training.divergence`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from neurosim.training.tasks import TASKS, TaskSpec, get_task_spec

#: folder holding the published configurations
CONFIG_ROOT = Path(__file__).resolve().parents[2] / "models" / "configs"
DTYPES = ("float32", "float64")


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-3`` (no dot, unsigned exponent) as a
    float, as YAML 1.2 does; PyYAML's YAML 1.1 resolver would return the string."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def safe_load(text: str) -> Any:
    """Parse YAML with the safe loader (plus YAML 1.2 floats such as ``1e-3``)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 (_Loader derives from SafeLoader)


class ConfigError(ValueError):
    """A run configuration is malformed; the message names the key and the fix."""


@dataclass(frozen=True)
class Schedule:
    """DFC training schedule (App. F.2, DFC.md §1.8).

    ``epochs_fb`` pre-training epochs update only the feedback weights; then each
    epoch runs one feedback pass (if the model has a feedback phase), one forward
    pass and ``extra_fb_epochs`` further feedback passes.
    """

    epochs_fb: int = 0
    extra_fb_epochs: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_int(f"schedule.{f.name}", getattr(self, f.name), minimum=0)


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to rerun a training run (see the module docstring)."""

    model: str
    dataset: str
    epochs: int = 100
    batch_size: int = 128
    seed: int = 42
    dtype: str = "float64"
    val_size: int = 5000
    subset: int | None = None
    device: str = "cpu"
    threads: int | None = None
    diagnostics: bool = False
    data_dir: str | None = None
    divergence_factor: float | None = 1000.0
    schedule: Schedule = field(default_factory=Schedule)
    params: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"RunConfig: model must be a model name, got {self.model!r}")
        spec = get_task_spec_checked(self.dataset)
        _check_int("epochs", self.epochs, minimum=1)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("seed", self.seed, minimum=0)
        _check_int("val_size", self.val_size, minimum=0)
        _check_val_size(self.val_size, spec)
        if self.subset is not None:
            _check_int("subset", self.subset, minimum=1)
        if self.dtype not in DTYPES:
            raise ConfigError(f"RunConfig: dtype {self.dtype!r} is not one of {DTYPES}")
        if not isinstance(self.device, str) or not (
            self.device == "cpu" or self.device.startswith("cuda")
        ):
            raise ConfigError(f"RunConfig: device {self.device!r} is not 'cpu', 'cuda' or 'cuda:N'")
        if self.threads is not None:
            _check_int("threads", self.threads, minimum=1)
        if not isinstance(self.diagnostics, bool):
            raise ConfigError(
                f"RunConfig: diagnostics must be true/false, got {self.diagnostics!r}"
            )
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError(
                f"RunConfig: data_dir must be a directory path or null, got {self.data_dir!r}"
            )
        factor = self.divergence_factor
        if factor is not None and (
            isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 1
        ):
            raise ConfigError(
                f"RunConfig: divergence_factor={factor!r}; expected a number > 1 (the allowed "
                "growth of the smoothed loss over its minimum, default 1000) or null to "
                "switch the growth check off"
            )
        if isinstance(self.schedule, dict):
            object.__setattr__(self, "schedule", _from_mapping(Schedule, self.schedule, "schedule"))
        if not isinstance(self.schedule, Schedule):
            raise ConfigError(
                f"RunConfig: schedule={self.schedule!r} ({type(self.schedule).__name__}); "
                "expected a mapping such as {epochs_fb: 0, extra_fb_epochs: 0}; write the "
                "keys out"
            )
        if not isinstance(self.params, dict):
            raise ConfigError(
                f"RunConfig: params={self.params!r}; expected a mapping of model "
                "hyperparameters such as {lr: 1.0e-4, size_hidden: [256, 256]}"
            )
        if not isinstance(self.data_options, dict):
            raise ConfigError(
                f"RunConfig: data_options={self.data_options!r}; expected a mapping of data "
                "set options such as {horizon: 5}"
            )

    # -- derived ----------------------------------------------------------------
    def model_params(self) -> dict[str, Any]:
        """``params`` completed with the dataset's default architecture."""
        return {**get_task_spec(self.dataset).architecture, **self.params}

    def with_overrides(self, **overrides: Any) -> RunConfig:
        """A copy with the non-``None`` ``overrides`` applied (command-line flags)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ConfigError(f"RunConfig: cannot override unknown key(s) {unknown}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain mapping (YAML-serialisable) of the configuration."""
        out = dataclasses.asdict(self)
        out["params"] = _plain(self.params)
        out["data_options"] = _plain(self.data_options)
        return out

    def save(self, path: str | Path) -> None:
        """Write as YAML (readable by :func:`load_config`)."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def get_task_spec_checked(dataset: Any) -> TaskSpec:
    """:func:`get_task_spec` raising :class:`ConfigError`."""
    try:
        return get_task_spec(dataset)
    except ValueError as err:
        raise ConfigError(f"RunConfig: {err}") from None


def config_from_dict(data: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a mapping (e.g. parsed YAML) into a :class:`RunConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of config keys, got {type(data).__name__}")
    return _from_mapping(RunConfig, data, source)


def load_config(path: str | Path) -> RunConfig:
    """Read a run config YAML (safe loader only)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {str(path)!r} is not valid (safe) YAML: {err}") from None
    return config_from_dict(data, source=str(path))


def default_config_path(model: str, dataset: str) -> Path:
    """``models/configs/{dataset}/{model}.yaml``."""
    return CONFIG_ROOT / dataset / f"{model}.yaml"


def available_configs(dataset: str) -> list[str]:
    """Model names that have a published config for ``dataset`` (other files in the
    folder, such as ``dfc-ssa-demo.yaml``, are variants loaded with ``--config``)."""
    from neurosim.models import registry

    models = set(registry.available())
    return sorted(p.stem for p in (CONFIG_ROOT / dataset).glob("*.yaml") if p.stem in models)


def default_config(model: str, dataset: str) -> RunConfig:
    """The paper's configuration of ``model`` on ``dataset`` (DFC.md §2)."""
    get_task_spec_checked(dataset)
    path = default_config_path(model, dataset)
    if not path.is_file():
        raise ConfigError(
            f"no config for model {model!r} on dataset {dataset!r} (looked for {path}); "
            f"configs exist for {available_configs(dataset)}; pass --config FILE"
        )
    cfg = load_config(path)
    if (cfg.model, cfg.dataset) != (model, dataset):
        raise ConfigError(
            f"{path}: declares model={cfg.model!r}, dataset={cfg.dataset!r} but its location "
            f"says model={model!r}, dataset={dataset!r}; fix the file"
        )
    return cfg


# -- helpers ------------------------------------------------------------------------
def _from_mapping(cls: type, data: dict[str, Any], source: str) -> Any:
    allowed = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {unknown}; allowed keys are {allowed}")
    required = [
        f.name
        for f in fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [k for k in required if k not in data]
    if missing:
        raise ConfigError(f"{source}: missing required key(s) {missing}")
    kwargs = dict(data)
    if cls is RunConfig:
        if kwargs.get("schedule") is None:
            kwargs.pop("schedule", None)
        elif isinstance(kwargs["schedule"], dict):
            kwargs["schedule"] = _from_mapping(Schedule, kwargs["schedule"], f"{source}: schedule")
        for key in ("params", "data_options"):
            if kwargs.get(key) is None:
                kwargs.pop(key, None)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"RunConfig: {name} must be an integer >= {minimum}, got {value!r}; "
            f"write a whole number such as {max(minimum, 1)}"
        )


def _check_val_size(val_size: int, spec: TaskSpec) -> None:
    """``val_size`` within what the task's data set allows (:attr:`TaskSpec.max_val_size`)."""
    limit = spec.max_val_size
    if limit is not None and val_size > limit:
        raise ConfigError(
            f"RunConfig: val_size={val_size} exceeds the {limit} validation samples dataset "
            f"{spec.name!r} allows ({spec.val_size_note}); lower val_size (0: no validation)"
        )


def _plain(value: Any) -> Any:
    """Tuples -> lists recursively, so YAML stays safe-loadable."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


__all__ = [
    "CONFIG_ROOT",
    "ConfigError",
    "RunConfig",
    "Schedule",
    "TASKS",
    "available_configs",
    "config_from_dict",
    "default_config",
    "default_config_path",
    "load_config",
]
