"""The network container: nodes, projections, probes and the networkx graph of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from neurosim.core.errors import ValidationError, check_choice, check_name
from neurosim.core.init import Given
from neurosim.core.population import Node
from neurosim.core.probe import Probe
from neurosim.core.projection import Projection
from neurosim.core.rules import AntiHebbianFeedbackRule, DendriticPredictionRule

TRANSMISSIONS = ("instantaneous", "delayed")
#: compartment each rule type must target
RULE_COMPARTMENT = {DendriticPredictionRule: "basal", AntiHebbianFeedbackRule: "apical"}


class Network:
    """A container of nodes (populations, inputs, microcircuits), projections and probes.

    Parameters
    ----------
    name : network name (appears in the built model's ``meta``).
    seed : root of every per-object random stream (weights, noise seeds).
    transmission : ``"instantaneous"`` (DFC App. E.1 default: nodes update in
        ascending order within a step, each reading the rates its inputs computed in
        the same step) or ``"delayed"`` (descending order: each reads the previous step).
    order : explicit update order of the non-controller nodes (default: topological
        order of the feedforward edges, ties in insertion order).

    Objects are added with :meth:`add`, which validates them against what is already
    in the network (names, sizes, compartments); :meth:`check` validates the whole.
    """

    def __init__(
        self,
        name: str = "network",
        seed: int = 42,
        transmission: str = "instantaneous",
        order: Iterable[str] | None = None,
    ) -> None:
        check_name(self, name)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValidationError(
                f"Network '{name}'", "seed", seed, "is invalid", "give an int >= 0"
            )
        self.name, self.seed = name, seed
        check_choice(self, "transmission", transmission, TRANSMISSIONS)
        self.transmission = transmission
        self._order = tuple(order) if order is not None else None
        self.nodes: dict[str, Node] = {}
        self.projections: dict[str, Projection] = {}
        self.probes: list[Probe] = []
        self.options: dict[str, Any] = {}

    # -- building --------------------------------------------------------------------
    def add(self, *objs: Node | Projection | Probe) -> Any:
        """Add nodes, projections or probes (in dependency order); returns the last one."""
        for obj in objs:
            if isinstance(obj, Projection):
                self._add_projection(obj)
            elif isinstance(obj, Probe):
                self.probes.append(obj)
            elif isinstance(obj, Node):
                self._add_node(obj)
            else:
                raise ValidationError(
                    f"Network '{self.name}'",
                    "add",
                    obj,
                    "is not a network object",
                    "add a Population, Input, circuit, Projection or Probe",
                )
        return objs[-1] if objs else None

    def _add_node(self, node: Node) -> None:
        if node.name in self.nodes or node.name in self.projections:
            raise ValidationError(
                f"Network '{self.name}'",
                "name",
                node.name,
                "is taken",
                "give every node and projection a unique name",
            )
        if getattr(node, "size", None) is None:
            raise ValidationError(
                f"{type(node).__name__} '{node.name}'",
                "size",
                None,
                "is not set",
                "give the number of units",
            )
        self.nodes[node.name] = node

    def _add_projection(self, proj: Projection) -> None:
        who = f"Projection '{proj.name}'"
        if proj.name in self.projections or proj.name in self.nodes:
            raise ValidationError(
                who, "name", proj.name, "is taken", "give every node and projection a unique name"
            )
        for attr in ("pre", "post"):
            if getattr(proj, attr) not in self.nodes:
                raise ValidationError(
                    who,
                    attr,
                    getattr(proj, attr),
                    "is not a node of the network",
                    f"add it first; nodes: {sorted(self.nodes)}",
                )
        post = self.nodes[proj.post]
        if proj.compartment not in post.targets:
            raise ValidationError(
                who,
                "compartment",
                proj.compartment,
                f"is not a compartment of {type(post).__name__} '{post.name}'",
                f"use one of {post.targets}",
            )
        if isinstance(proj.weight, Given):
            proj.weight.check_shape(self.shape(proj), who)
        want = RULE_COMPARTMENT.get(type(proj.rule))
        if want is not None and proj.compartment != want:
            raise ValidationError(
                who,
                "rule",
                type(proj.rule).__name__,
                f"needs a projection into a '{want}' compartment, not '{proj.compartment}'",
                f"attach it to a projection with compartment='{want}'",
            )
        self.projections[proj.name] = proj

    # -- queries ---------------------------------------------------------------------
    def shape(self, proj: Projection) -> tuple[int, int]:
        """Weight shape ``(n_post, n_pre)`` of a projection."""
        return (self.nodes[proj.post].size, self.nodes[proj.pre].size)

    def into(self, node: str, compartment: str | None = None) -> list[Projection]:
        """Projections into ``node`` (optionally one compartment), in insertion order."""
        return [
            p
            for p in self.projections.values()
            if p.post == node and (compartment is None or p.compartment == compartment)
        ]

    def out_of(self, node: str) -> list[Projection]:
        """Projections leaving ``node``."""
        return [p for p in self.projections.values() if p.pre == node]

    @property
    def controllers(self) -> list[Node]:
        """Nodes that are controllers (their ops are scheduled around the others)."""
        return [n for n in self.nodes.values() if getattr(n, "is_controller", False)]

    @property
    def order(self) -> tuple[str, ...]:
        """Update order of the non-controller, non-input nodes (instantaneous case)."""
        skip = {n.name for n in self.controllers} | {
            n.name for n in self.nodes.values() if not n.targets
        }
        if self._order is not None:
            return tuple(n for n in self._order if n not in skip)
        ff = nx.DiGraph()
        ff.add_nodes_from(self.nodes)
        ff.add_edges_from(
            (p.pre, p.post) for p in self.projections.values() if p.role == "feedforward"
        )
        rank = {n: i for i, n in enumerate(self.nodes)}
        try:
            topo = list(nx.lexicographical_topological_sort(ff, key=rank.__getitem__))
        except nx.NetworkXUnfeasible:
            topo = list(self.nodes)  # check() reports the cycle
        return tuple(n for n in topo if n not in skip)

    @order.setter
    def order(self, value: Iterable[str] | None) -> None:
        self._order = tuple(value) if value is not None else None

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The network as a networkx multigraph (a DiGraph subclass).

        Nodes: populations and microcircuit parts, with ``kind``, ``size`` and ``obj``
        (the owning object's name) attributes. Edges: one per projection (key = its
        name) with ``role``, ``compartment``, ``shape`` (n_post, n_pre), ``plastic``;
        plus the internal edges of microcircuits (``internal=True``).
        """
        g = nx.MultiDiGraph(name=self.name)
        for node in self.nodes.values():
            for part, attrs in node.graph_parts():
                g.add_node(part, **attrs)
        for node in self.nodes.values():
            for u, v, attrs in node.graph_edges():
                g.add_edge(u, v, key=attrs.get("name", f"{u}->{v}"), internal=True, **attrs)
        for p in self.projections.values():
            pre, post = self.nodes[p.pre], self.nodes[p.post]
            g.add_edge(
                pre.output_node,
                post.input_node(p.compartment),
                key=p.name,
                name=p.name,
                role=p.role,
                compartment=p.compartment,
                shape=self.shape(p),
                plastic=p.plastic,
                internal=False,
            )
        return g

    def check(self) -> None:
        """Whole-network checks (see :mod:`neurosim.core.checks`)."""
        from neurosim.core.checks import check_network

        check_network(self)

    def __repr__(self) -> str:
        return (
            f"Network('{self.name}', {len(self.nodes)} nodes, {len(self.projections)} "
            f"projections, {len(self.probes)} probes, seed={self.seed})"
        )
