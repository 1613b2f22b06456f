"""``draw_network``: a layered drawing of a network's graph (matplotlib, lazily imported)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

if TYPE_CHECKING:
    from neurosim.core.network import Network

#: edge style per role: (colour, line style)
STYLES = {
    "feedforward": ("black", "solid"),
    "feedback": ("tab:red", "dashed"),
    "lateral": ("tab:green", "dotted"),
    "recurrent": ("tab:purple", "dashdot"),
    "self": ("tab:purple", "dotted"),
}


def layout(g: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    """Node positions: height = longest feedforward path from a source; a
    microcircuit's parts side by side in one row; nodes fed only by feedback (e.g. the
    App. H pathway) to the right of the node they feed."""
    ff = nx.DiGraph()
    ff.add_nodes_from(g.nodes)
    ff.add_edges_from(
        (u, v)
        for u, v, d in g.edges(data=True)
        if d.get("role") == "feedforward"
        and u != v
        and not (g.nodes[u].get("circuit") and g.nodes[u].get("obj") == g.nodes[v].get("obj"))
    )
    depth = dict.fromkeys(ff.nodes, 0)
    if nx.is_directed_acyclic_graph(ff):
        for node in nx.topological_sort(ff):
            for succ in ff.successors(node):
                depth[succ] = max(depth[succ], depth[node] + 1)
    circuits: dict[str, list[str]] = {}
    for node, attrs in g.nodes(data=True):
        if attrs.get("circuit"):
            circuits.setdefault(attrs["obj"], []).append(node)
    for parts in circuits.values():
        top = max(depth[p] for p in parts)
        depth.update(dict.fromkeys(parts, top))
    side = set()
    for node in g.nodes:
        fed = [u for u, _, d in g.in_edges(node, data=True) if u != node]
        if (
            depth[node] == 0
            and fed
            and g.nodes[node].get("kind") != "Input"
            and not g.nodes[node].get("circuit")
        ):
            targets = [v for _, v in g.out_edges(node) if v != node and v not in side]
            if targets:
                depth[node] = depth[targets[0]]
                side.add(node)
    pos: dict[str, tuple[float, float]] = {}
    rows: dict[int, list[str]] = {}
    for node in g.nodes:
        if node not in side:
            rows.setdefault(depth[node], []).append(node)
    for d, nodes in rows.items():
        for j, node in enumerate(nodes):
            lift = 0.4 if g.nodes[node].get("kind") == "AutapseIntegrator" else 0.0
            pos[node] = (1.2 * (j - (len(nodes) - 1) / 2), d + lift)
    for node in side:
        pos[node] = (2.5, float(depth[node]))
    return pos


def draw_network(net: Network, ax: Any = None) -> Any:
    """Draw ``net.graph``: nodes in feedforward levels, edges styled by role, a legend.

    Returns the matplotlib figure (a new one when ``ax`` is None).
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    g = net.graph
    pos = layout(g)
    if ax is None:
        height = max((y for _, y in pos.values()), default=1.0)
        fig, ax = plt.subplots(figsize=(7, 1.5 + 1.1 * height))
    else:
        fig = ax.figure
    sizes = [300 + 40 * (g.nodes[n].get("size") or 1) ** 0.5 for n in g.nodes]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=sizes, node_color="lightsteelblue")
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8)
    used = []
    for role, (color, style) in STYLES.items():
        edges = [(u, v) for u, v, d in g.edges(data=True) if d.get("role") == role]
        if not edges:
            continue
        used.append(role)
        rad = 0.25 if role != "feedforward" else 0.0
        nx.draw_networkx_edges(
            g,
            pos,
            edgelist=edges,
            ax=ax,
            edge_color=color,
            style=style,
            arrows=True,
            connectionstyle=f"arc3,rad={rad}",
            node_size=sizes[0] if sizes else 300,
        )
    handles = [Line2D([], [], color=STYLES[r][0], linestyle=STYLES[r][1], label=r) for r in used]
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
    )
    ax.set_title(f"{net.name}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges")
    ax.set_axis_off()
    return fig
