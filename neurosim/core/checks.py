"""Whole-network checks run before building: each error names the object and the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from neurosim.core.errors import ValidationError
from neurosim.core.population import Input

if TYPE_CHECKING:
    from neurosim.core.network import Network


def check_network(net: Network) -> None:
    """Run every check; raise :class:`ValidationError` at the first problem."""
    for check in (
        check_dangling_inputs,
        check_required_inputs,
        check_controllers,
        check_cycles,
        check_order,
    ):
        check(net)


def check_dangling_inputs(net: Network) -> None:
    """Every :class:`Input` must feed at least one projection."""
    used = {p.pre for p in net.projections.values()}
    for node in net.nodes.values():
        if isinstance(node, Input) and node.name not in used:
            raise ValidationError(
                f"Input '{node.name}'",
                "projections",
                0,
                "is dangling (nothing reads it)",
                "add a Projection from it or remove it",
            )


def check_required_inputs(net: Network) -> None:
    """Compartments a node declares as required (e.g. basal) must receive a projection."""
    for node in net.nodes.values():
        for comp in getattr(node, "required_inputs", ()):
            if not net.into(node.name, comp):
                raise ValidationError(
                    f"{type(node).__name__} '{node.name}'",
                    comp,
                    None,
                    "receives no projection",
                    f"add a Projection(..., '{node.name}', '{comp}')",
                )


def check_controllers(net: Network) -> None:
    """A controller needs a target: an output node of its own size."""
    for ctrl in net.controllers:
        who = f"{type(ctrl).__name__} '{ctrl.name}'"
        out = ctrl.output_layer
        if out is None or out not in net.nodes:
            raise ValidationError(
                who,
                "output_layer",
                out,
                "is not a node of the network (no target)",
                f"set output_layer to the layer it controls; nodes: {sorted(net.nodes)}",
            )
        if net.nodes[out].size != ctrl.size:
            raise ValidationError(
                who,
                "size",
                ctrl.size,
                f"differs from output layer '{out}' ({net.nodes[out].size} units)",
                f"give size={net.nodes[out].size}",
            )


def check_cycles(net: Network) -> None:
    """Cycles must contain at least one non-feedforward projection."""
    g = nx.DiGraph()
    g.add_nodes_from(net.nodes)
    for p in net.projections.values():
        if p.role == "feedforward":
            g.add_edge(p.pre, p.post, name=p.name)
    for ctrl in net.controllers:
        if ctrl.output_layer in net.nodes:
            g.add_edge(ctrl.output_layer, ctrl.name, name=f"{ctrl.name}.e")
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    names = [g.edges[u, v]["name"] for u, v in cycle]
    raise ValidationError(
        f"Network '{net.name}'",
        "projections",
        names,
        "form a cycle of feedforward edges",
        "mark one of them role='feedback' (or 'recurrent'/'lateral')",
    )


def check_order(net: Network) -> None:
    """An explicit order must name every updated node exactly once."""
    if net._order is None:
        return
    need = {n.name for n in net.nodes.values() if n.targets and n not in net.controllers}
    given = [n for n in net._order if n in need]
    unknown = [n for n in net._order if n not in net.nodes]
    if unknown or len(given) != len(set(given)) or set(given) != need:
        raise ValidationError(
            f"Network '{net.name}'",
            "order",
            list(net._order),
            "is not a permutation",
            f"list each of {sorted(need)} once",
        )
