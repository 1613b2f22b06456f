"""Sweep specifications (``neurosim sweep SPEC.yaml``), validated before any trial runs.

A spec is a YAML mapping::

    name: dfc_ssa_small            # default: the file's stem
    base:                          # the run every trial starts from
      model: dfc-ssa
      dataset: mnist
      config: null                 # a run config YAML (relative to the spec file);
                                   # null: the paper's config of model on dataset
      set: {epochs: 2, subset: 2000}   # dotted-key overrides, as --set
    space:                         # dotted config key -> dimension
      params.lr: {type: loguniform, low: 1e-5, high: 1e-3}
      params.alpha_di: {type: uniform, low: 1e-4, high: 1e-2}
      schedule.extra_fb_epochs: {type: int, low: 0, high: 2}     # inclusive bounds
      params.optimizer: {type: choice, values: [adam, sgd]}
    objective: auto                # or val_error, val_loss, train_loss, test_loss, ...
    mode: min
    trials: 6
    search: {algorithm: tpe, seed: 0, startup_trials: 3}   # tpe | random
    concurrency: null              # trials at once (null: as many as the CPUs allow)
    early_stopping: {type: asha, grace_period: 1, reduction_factor: 2}  # asha | median | none
    resources: {cpus_per_trial: 1, gpus_per_trial: 0}

``objective: auto`` follows the task's reported metric (``TaskSpec.metric``): the test
error of the classification sets becomes the validation error (hyperparameters are
chosen on validation data; the test error at the best-validation epoch is what a run
reports), MNIST-train's train loss and the regression sets' test loss stay as they are.
Each trial's objective is the best value over its epochs.

Every search dimension is checked against the base configuration with the override
machinery (:mod:`neurosim.training.overrides`): an unknown key, a bound of the wrong
type, ``low > high``, a non-positive log bound, or an objective the task does not
report is a :class:`~neurosim.training.config.ConfigError` naming the entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from neurosim.training.config import (
    ConfigError,
    RunConfig,
    default_config,
    get_task_spec_checked,
    load_config,
    safe_load,
)
from neurosim.training.overrides import apply_overrides

KINDS = ("uniform", "loguniform", "int", "choice")
ALGORITHMS = ("tpe", "random")
STOPPERS = ("asha", "median", "none")
MODES = ("min", "max")
_SPEC_KEYS = (
    "name", "base", "space", "objective", "mode", "trials", "search", "concurrency",
    "early_stopping", "resources",
)  # fmt: skip


@dataclass(frozen=True)
class Dimension:
    """One searched config key.

    ``kind``: ``uniform`` / ``loguniform`` (floats in ``[low, high]``), ``int``
    (integers in ``[low, high]``, log-spaced with ``log``) or ``choice`` (one of
    ``values``).
    """

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    values: tuple[Any, ...] = ()
    log: bool = False

    @property
    def is_log(self) -> bool:
        """Whether the dimension is searched (and plotted) on a log scale."""
        return self.kind == "loguniform" or (self.kind == "int" and self.log)

    def samples(self) -> list[Any]:
        """Values that represent the dimension (bounds or choices), for validation."""
        return list(self.values) if self.kind == "choice" else [self.low, self.high]

    @property
    def encoded(self) -> bool:
        """Choices that are not scalars (lists, mappings) travel through Tune and
        Optuna as YAML text."""
        return self.kind == "choice" and not all(_scalar(v) for v in self.values)

    def tune_domain(self, tune: Any) -> Any:
        """The Ray Tune search domain (integer bounds inclusive)."""
        if self.kind == "uniform":
            return tune.uniform(self.low, self.high)
        if self.kind == "loguniform":
            return tune.loguniform(self.low, self.high)
        if self.kind == "int":
            sampler = tune.lograndint if self.log else tune.randint
            return sampler(int(self.low), int(self.high) + 1)  # Tune's upper bound is exclusive
        values = [_encode(v) for v in self.values] if self.encoded else list(self.values)
        return tune.choice(values)

    def decode(self, value: Any) -> Any:
        """The config value of a value sampled from :meth:`tune_domain`."""
        return safe_load(value) if self.encoded and isinstance(value, str) else value

    def describe(self) -> str:
        if self.kind == "choice":
            return f"choice {list(self.values)}"
        log = " (log)" if self.kind == "int" and self.log else ""
        return f"{self.kind}{log} [{self.low}, {self.high}]"


@dataclass(frozen=True)
class EarlyStopping:
    """Stopping of bad trials on the per-epoch objective: ``asha`` (asynchronous
    successive halving: at epochs ``grace_period * reduction_factor^k`` only the best
    ``1 / reduction_factor`` continue) or ``median`` (stop a trial whose best is worse
    than the median of the others' at the same epoch, after ``grace_period`` epochs and
    ``min_samples`` trials)."""

    kind: str = "none"
    grace_period: int = 1
    reduction_factor: int = 2
    min_samples: int = 3


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep (see the module docstring for the YAML form)."""

    name: str
    model: str
    dataset: str
    config_path: str | None
    overrides: dict[str, Any]
    space: tuple[Dimension, ...]
    objective: str
    trials: int
    mode: str = "min"
    algorithm: str = "tpe"
    seed: int = 0
    startup_trials: int = 10
    concurrency: int | None = None
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)
    cpus_per_trial: int = 1
    gpus_per_trial: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def base_config(self) -> RunConfig:
        """The base run with the spec's ``set`` overrides (not yet the trial's values)."""
        cfg = load_config(self.config_path) if self.config_path else None
        if cfg is None:
            cfg = default_config(self.model, self.dataset)
        return apply_overrides(cfg, self.overrides, source=f"sweep {self.name!r}: base.set")


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep spec {str(path)!r} does not exist")
    try:
        data = safe_load(path.read_text())
    except Exception as err:  # noqa: BLE001 - yaml errors carry the position
        raise ConfigError(f"sweep spec {str(path)!r} is not valid YAML: {err}") from None
    return spec_from_dict(data, source=str(path), root=path.parent, default_name=path.stem)


def spec_from_dict(
    data: Any, source: str = "sweep spec", root: Path | None = None, default_name: str = "sweep"
) -> SweepSpec:
    """Validate a spec mapping; ``root`` resolves a relative ``base.config``."""
    _mapping(data, source, _SPEC_KEYS)
    base = _mapping(data.get("base"), f"{source}: base", ("model", "dataset", "config", "set"))
    for key in ("model", "dataset"):
        if key not in base and not base.get("config"):
            raise ConfigError(f"{source}: base needs 'model' and 'dataset' (or 'config')")
    config_path = None
    if base.get("config"):
        p = Path(base["config"])
        config_path = str(p if p.is_absolute() or root is None else root / p)
    overrides = dict(_mapping(base.get("set") or {}, f"{source}: base.set"))
    if "threads" in overrides:
        raise ConfigError(
            f"{source}: base.set.threads: trials are pinned to resources.cpus_per_trial "
            "threads; set that instead"
        )
    search = _mapping(data.get("search") or {}, f"{source}: search",
                      ("algorithm", "seed", "startup_trials"))  # fmt: skip
    stop = _mapping(data.get("early_stopping") or {}, f"{source}: early_stopping",
                    ("type", "grace_period", "reduction_factor", "min_samples"))  # fmt: skip
    res = _mapping(data.get("resources") or {}, f"{source}: resources",
                   ("cpus_per_trial", "gpus_per_trial"))  # fmt: skip
    space = _mapping(data.get("space"), f"{source}: space")
    if not space:
        raise ConfigError(f"{source}: space is empty; give at least one dimension")

    def integer(section: dict[str, Any], key: str, default: int, minimum: int, where: str) -> int:
        return _int(section.get(key, default), f"{source}: {where}{key}", minimum)

    spec = SweepSpec(
        name=str(data.get("name") or default_name),
        model=str(base.get("model", "")),
        dataset=str(base.get("dataset", "")),
        config_path=config_path,
        overrides=overrides,
        space=tuple(_dimension(k, v, f"{source}: space.{k}") for k, v in space.items()),
        objective=str(data.get("objective") or "auto"),
        trials=_int(data.get("trials"), f"{source}: trials", 1),
        mode=_choice(data.get("mode", "min"), f"{source}: mode", MODES),
        algorithm=_choice(
            search.get("algorithm", "tpe"), f"{source}: search.algorithm", ALGORITHMS
        ),
        seed=integer(search, "seed", 0, 0, "search."),
        startup_trials=integer(search, "startup_trials", 10, 1, "search."),
        concurrency=None
        if data.get("concurrency") is None
        else _int(data["concurrency"], f"{source}: concurrency", 1),
        early_stopping=EarlyStopping(
            kind=_choice(stop.get("type", "none"), f"{source}: early_stopping.type", STOPPERS),
            grace_period=integer(stop, "grace_period", 1, 1, "early_stopping."),
            reduction_factor=integer(stop, "reduction_factor", 2, 2, "early_stopping."),
            min_samples=integer(stop, "min_samples", 3, 1, "early_stopping."),
        ),
        cpus_per_trial=integer(res, "cpus_per_trial", 1, 1, "resources."),
        gpus_per_trial=_number(
            res.get("gpus_per_trial", 0), f"{source}: resources.gpus_per_trial", 0
        ),
        raw=dict(data),
    )
    return _validated(spec, source)


# -- validation against the base configuration -----------------------------------------
def _validated(spec: SweepSpec, source: str) -> SweepSpec:
    base = spec.base_config()
    for key in ("model", "dataset"):
        if key in spec.overrides:
            raise ConfigError(f"{source}: base.set may not change {key}; set base.{key}")
        given = getattr(spec, key)
        if given and getattr(base, key) != given:
            raise ConfigError(
                f"{source}: base.{key} is {given!r} but base.config {spec.config_path} "
                f"says {getattr(base, key)!r}"
            )
    for dim in spec.space:
        if dim.key in ("model", "dataset", "threads", "device"):
            raise ConfigError(f"{source}: space.{dim.key}: this key cannot be searched")
        for value in dim.samples():
            apply_overrides(base, {dim.key: value}, source=f"{source}: space.{dim.key}")
    objective = resolve_objective(spec.objective, base, source)
    if spec.gpus_per_trial == 0 and base.device.startswith("cuda"):
        raise ConfigError(
            f"{source}: the base run uses device {base.device!r} but resources.gpus_per_trial "
            "is 0; give each trial a GPU (e.g. gpus_per_trial: 1) or use device cpu"
        )
    return _replace(spec, objective=objective, model=base.model, dataset=base.dataset)


def reported_metrics(cfg: RunConfig) -> list[str]:
    """The per-epoch metrics a run of ``cfg`` reports (``metrics.jsonl``)."""
    classification = get_task_spec_checked(cfg.dataset).kind == "classification"
    splits = ["train", *(["val"] if cfg.val_size > 0 else []), "test"]
    kinds = ["loss", "error"] if classification else ["loss"]
    return [f"{s}_{k}" for s in splits for k in kinds]


def resolve_objective(objective: str, cfg: RunConfig, source: str = "sweep") -> str:
    """The metric a sweep minimises: ``auto`` from the task (module docstring), else
    ``objective`` itself if the run reports it."""
    reported = reported_metrics(cfg)
    if objective == "auto":
        metric = get_task_spec_checked(cfg.dataset).metric
        chosen = {"test_error": "val_error", "test_loss": "test_loss"}.get(metric, metric)
        if chosen not in reported:  # no validation set: the task's own metric
            chosen = metric
        return chosen
    if objective not in reported:
        raise ConfigError(
            f"{source}: objective {objective!r} is not reported by {cfg.model} on "
            f"{cfg.dataset} (val_size={cfg.val_size}); it reports {reported}"
        )
    return objective


def _dimension(key: Any, entry: Any, source: str) -> Dimension:
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{source}: a search key must be a dotted config key")
    d = _mapping(entry, source, ("type", "low", "high", "values", "log"))
    kind = _choice(d.get("type"), f"{source}.type", KINDS)
    if kind == "choice":
        values = d.get("values")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: a choice needs a non-empty list 'values'")
        return Dimension(key, kind, values=tuple(values))
    if "values" in d:
        raise ConfigError(f"{source}: 'values' belongs to type choice; {kind} takes low/high")
    if "low" not in d or "high" not in d:
        raise ConfigError(f"{source}: {kind} needs 'low' and 'high'")
    if kind == "int":
        low, high = _int(d["low"], f"{source}.low", None), _int(d["high"], f"{source}.high", None)
    else:
        low, high = _number(d["low"], f"{source}.low"), _number(d["high"], f"{source}.high")
    if low > high:
        raise ConfigError(f"{source}: low ({low}) is greater than high ({high})")
    if low == high:
        raise ConfigError(
            f"{source}: low equals high ({low}); fix the value in base.set instead of searching it"
        )
    log = bool(d.get("log", False))
    if (kind == "loguniform" or log) and low <= 0:
        raise ConfigError(f"{source}: a log-scaled range needs low > 0, got {low}")
    if log and kind != "int":
        raise ConfigError(f"{source}: 'log' applies to type int; use type loguniform for floats")
    return Dimension(key, kind, low=low, high=high, log=log)


def _mapping(data: Any, source: str, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
    if allowed is not None:
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {unknown}; allowed keys are {list(allowed)}"
            )
    return data


def _int(value: Any, source: str, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{source}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{source}: must be >= {minimum}, got {value}")
    return value


def _number(value: Any, source: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{source}: expected a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{source}: must be >= {minimum}, got {value}")
    return float(value)


def _choice(value: Any, source: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{source}: {value!r} is not one of {list(choices)}")
    return str(value)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _encode(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _replace(spec: SweepSpec, **changes: Any) -> SweepSpec:
    import dataclasses

    return dataclasses.replace(spec, **changes)


__all__ = [
    "ALGORITHMS",
    "Dimension",
    "EarlyStopping",
    "KINDS",
    "SweepSpec",
    "load_spec",
    "reported_metrics",
    "resolve_objective",
    "spec_from_dict",
]
