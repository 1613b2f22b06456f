"""Circuit files: a network (and simulation options) as safe YAML, and back.

Format (see ``examples/circuits/*.yaml``)::

    network:    {name: dfc, seed: 42, transmission: instantaneous, order: [l1, l2]}
    nodes:      [{type: Input, name: x, size: 15}, {type: PyramidalLayer, ...}, ...]
    projections: [{name: W1, pre: x, post: l1, compartment: basal,
                   weight: {type: XavierNormal, gain: 1.0}, bias: true, ...}, ...]
    probes:     [{target: l1.v, every: 1}, ...]
    simulation: {dt: 0.02, steps: 1000, dtype: float64, ...}

or, for a DFC hierarchy, ``hierarchy:`` with the arguments of ``HierarchyBuilder``
in place of ``network``/``nodes``/``projections``::

    hierarchy: {layer_sizes: [15, 10, 10, 5], controller: {k_p: 1.5, alpha: 0.0015}}

Each node / projection entry carries the constructor arguments of its class; nested
objects (initialisers, rules, soma models) are mappings, with ``type`` where the class
is not implied. Loading validates every key and type and reports errors with their
place in the file (``nodes[2].nonlinearity``, line number) and the allowed values.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from neurosim.circuits.autapse import AutapseIntegrator
from neurosim.circuits.controller import PIController
from neurosim.circuits.error import ErrorPopulation
from neurosim.circuits.pyramidal import PyramidalLayer
from neurosim.circuits.reciprocal import ReciprocalPair
from neurosim.core.errors import ValidationError
from neurosim.core.init import INITS, WeightInit
from neurosim.core.network import Network
from neurosim.core.population import Input, Population
from neurosim.core.probe import Probe
from neurosim.core.projection import Projection
from neurosim.core.rules import RULES, PlasticityRule
from neurosim.graph.hierarchy import HierarchyBuilder

NODE_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        Input,
        Population,
        PyramidalLayer,
        AutapseIntegrator,
        PIController,
        ErrorPopulation,
        ReciprocalPair,
    )
}
NESTED: dict[type, dict[str, type]] = {WeightInit: INITS, PlasticityRule: RULES}
SECTIONS = ("network", "hierarchy", "nodes", "projections", "probes", "simulation")
NETWORK_KEYS = {"name": str, "seed": int, "transmission": str, "order": list, "meta": dict}
SIMULATION_KEYS = {
    "dt": float,
    "steps": int,
    "dtype": str,
    "batch": int,
    "seed": int,
    "inputs": dict,
    "backend": str,
    "target": str,
}


class CircuitFileError(ValueError):
    """A circuit file is malformed; the message names the place, the problem and the fix."""


# -- saving --------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """Frontend value -> YAML-safe value (dataclasses as mappings, tuples as lists)."""
    if dataclasses.is_dataclass(value):
        out = {"type": type(value).__name__} if _needs_type(type(value)) else {}
        names = [f.name for f in dataclasses.fields(value)]
        for name in sorted(names, key=lambda n: n != "name"):  # name first
            out[name] = _plain(getattr(value, name))
        return out
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _needs_type(cls: type) -> bool:
    return any(issubclass(cls, base) for base in NESTED) or cls in NODE_TYPES.values()


def circuit_to_dict(net: Network, simulation: dict | None = None) -> dict:
    """The circuit-file mapping of ``net`` (plus ``simulation`` options)."""
    head: dict[str, Any] = {"name": net.name, "seed": net.seed, "transmission": net.transmission}
    if net._order is not None:
        head["order"] = list(net._order)
    if net.options:
        head["meta"] = dict(net.options)
    out = {
        "network": head,
        "nodes": [_plain(n) for n in net.nodes.values()],
        "projections": [_plain(p) for p in net.projections.values()],
        "probes": [_plain(p) for p in net.probes],
    }
    if simulation:
        out["simulation"] = dict(simulation)
    return out


def save_circuit(net: Network, path: str | Path, simulation: dict | None = None) -> Path:
    """Write ``net`` (and ``simulation`` options such as dt, steps, dtype) to ``path``."""
    path = Path(path)
    text = yaml.safe_dump(
        circuit_to_dict(net, simulation), sort_keys=False, default_flow_style=None, width=100
    )
    path.write_text(text)
    return path


# -- loading -------------------------------------------------------------------------------
class _Reader:
    """Converts plain data to frontend objects, tracking the path for error messages."""

    def __init__(self, source: str, root: yaml.Node | None) -> None:
        self.source, self.root = source, root

    def fail(self, path: str, problem: str, fix: str) -> CircuitFileError:
        line = _line_of(self.root, path)
        where = f"{self.source}:{line}" if line else self.source
        return CircuitFileError(f"{where}: {path}: {problem}" + (f"; {fix}" if fix else ""))

    def mapping(self, data: Any, path: str, allowed: dict[str, Any]) -> dict:
        if not isinstance(data, dict):
            raise self.fail(
                path,
                f"expected a mapping, got {type(data).__name__}",
                f"give keys from {sorted(allowed)}",
            )
        for key in data:
            if key not in allowed:
                raise self.fail(
                    f"{path}.{key}" if path else str(key),
                    f"unknown key {key!r}",
                    f"allowed keys: {sorted(allowed)}",
                )
        return data

    def obj(self, data: Any, path: str, cls: type) -> Any:
        """Build dataclass ``cls`` (or the subclass named by ``type``) from ``data``."""
        if cls in NESTED or cls is AnyNode:
            choices = NESTED.get(cls, NODE_TYPES)
            if not isinstance(data, dict) or data.get("type") not in choices:
                got = data.get("type") if isinstance(data, dict) else data
                raise self.fail(
                    f"{path}.type", f"unknown type {got!r}", f"allowed: {sorted(choices)}"
                )
            cls = choices[data["type"]]
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        data = self.mapping(data, path, {**fields, "type": None})
        if "type" in data and data["type"] != cls.__name__:
            raise self.fail(f"{path}.type", f"is {data['type']!r}", f"use {cls.__name__!r}")
        kwargs = {k: self.value(v, f"{path}.{k}", hints[k]) for k, v in data.items() if k != "type"}
        try:
            return cls(**kwargs)
        except ValidationError as err:
            where = f"{path}.{err.attr}" if err.attr in kwargs else path
            raise self.fail(where, str(err), "") from None
        except (ValueError, TypeError) as err:
            raise self.fail(path, str(err), "fix the value named above") from None

    def value(self, v: Any, path: str, hint: Any) -> Any:
        """Check/convert one value against a type hint."""
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            if v is None and type(None) in args:
                return None
            errors = []
            for arm in (a for a in args if a is not type(None)):
                try:
                    return self.value(v, path, arm)
                except CircuitFileError as err:
                    errors.append(str(err))
            raise self.fail(
                path, f"{v!r} matches none of {_names(args)}", f"give one of {_names(args)}"
            ) from None
        if origin in (tuple, list, collections.abc.Sequence) or hint is tuple:
            if not isinstance(v, (list, tuple)):
                raise self.fail(path, f"expected a list, got {v!r}", "give a YAML list")
            item = args[0] if args else Any
            return tuple(
                v if item is Any else [self.value(x, f"{path}[{i}]", item) for i, x in enumerate(v)]
            )
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) or hint in NESTED:
            return self.obj(v, path, hint)
        return self.scalar(v, path, hint)

    def scalar(self, v: Any, path: str, hint: Any) -> Any:
        ok = {
            bool: isinstance(v, bool),
            int: isinstance(v, int) and not isinstance(v, bool),
            float: isinstance(v, (int, float)) and not isinstance(v, bool),
            str: isinstance(v, str),
            list: isinstance(v, list),
            dict: isinstance(v, dict),
        }.get(hint, True)
        if not ok:
            raise self.fail(
                path, f"expected {_names((hint,))}, got {v!r}", f"give a {_names((hint,))}"
            )
        return float(v) if hint is float else v


class AnyNode:  # marker: "any node type" for _Reader.obj
    pass


def _names(types_: tuple) -> str:
    return " | ".join(getattr(t, "__name__", str(t)) for t in types_)


def _line_of(root: yaml.Node | None, path: str) -> int | None:
    """1-based line of ``path`` (``nodes[2].soma.g_A``) in the composed YAML tree."""
    node, line = root, None
    if node is None:
        return None
    import re

    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        if isinstance(node, yaml.MappingNode) and key:
            match = [(k, v) for k, v in node.value if k.value == key]
            if not match:
                break
            line, node = match[0][0].start_mark.line + 1, match[0][1]
        elif isinstance(node, yaml.SequenceNode) and index:
            if int(index) >= len(node.value):
                break
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def circuit_from_dict(
    data: Any, source: str = "<dict>", root: yaml.Node | None = None
) -> tuple[Network, dict]:
    """Inverse of :func:`circuit_to_dict`: ``(Network, simulation options)``.

    Instead of ``network``/``nodes``/``projections`` a file may give ``hierarchy:``, the
    arguments of :class:`~neurosim.HierarchyBuilder` (``controller`` as a mapping of
    :class:`~neurosim.circuits.PIController` arguments).
    """
    rd = _Reader(source, root)
    data = rd.mapping(data, "", dict.fromkeys(SECTIONS))
    net = _from_hierarchy(rd, data) if "hierarchy" in data else _from_nodes(rd, data)
    _add_items(rd, net, data, "probes", Probe)
    sim = rd.mapping(data.get("simulation") or {}, "simulation", SIMULATION_KEYS)
    for key, typ in SIMULATION_KEYS.items():
        if key in sim:
            sim[key] = rd.scalar(sim[key], f"simulation.{key}", typ)
    try:
        net.check()
    except ValueError as err:
        raise rd.fail("network", str(err), "") from None
    return net, dict(sim)


def _from_hierarchy(rd: _Reader, data: dict) -> Network:
    clash = [k for k in ("network", "nodes", "projections") if k in data]
    if clash:
        raise rd.fail(
            clash[0],
            "cannot be combined with 'hierarchy'",
            "describe the circuit either by 'hierarchy' or by nodes/projections",
        )
    builder = rd.obj(data["hierarchy"], "hierarchy", HierarchyBuilder)
    try:
        return builder.build()
    except ValueError as err:
        raise rd.fail("hierarchy", str(err), "") from None


def _from_nodes(rd: _Reader, data: dict) -> Network:
    head = rd.mapping(data.get("network") or {}, "network", NETWORK_KEYS)
    for key, typ in NETWORK_KEYS.items():
        if key in head:
            rd.scalar(head[key], f"network.{key}", typ)
    try:
        net = Network(
            head.get("name", "network"),
            seed=head.get("seed", 42),
            transmission=head.get("transmission", "instantaneous"),
            order=head.get("order"),
        )
    except ValueError as err:
        raise rd.fail("network", str(err), "") from None
    net.options = dict(head.get("meta") or {})
    _add_items(rd, net, data, "nodes", AnyNode)
    _add_items(rd, net, data, "projections", Projection)
    return net


def _add_items(rd: _Reader, net: Network, data: dict, section: str, cls: type) -> None:
    items = data.get(section) or []
    if not isinstance(items, list):
        raise rd.fail(section, "is not a list", f"give a YAML list of {section}")
    for i, item in enumerate(items):
        obj = rd.obj(item, f"{section}[{i}]", cls)
        try:
            net.add(obj)
        except ValueError as err:
            raise rd.fail(f"{section}[{i}]", str(err), "") from None


def load_circuit(path: str | Path) -> tuple[Network, dict]:
    """Read a circuit file (``yaml.safe_load`` only): ``(Network, simulation options)``."""
    path = Path(path)
    text = path.read_text()
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise CircuitFileError(f"{path}: not valid YAML: {err}") from None
    return circuit_from_dict(data, str(path), root)
