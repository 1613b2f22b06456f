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


def _depths(g: nx.MultiDiGraph) -> dict[str, int]:
    """Longest feedforward path length from a source: the drawing's vertical level."""
    ff = nx.DiGraph()
    ff.add_nodes_from(g.nodes)
    ff.add_edges_from((u, v) for u, v, d in g.edges(data=True)
                      if d.get("role") == "feedforward" and u != v)  # fmt: skip
    depth = dict.fromkeys(ff.nodes, 0)
    if nx.is_directed_acyclic_graph(ff):
        for node in nx.topological_sort(ff):
            for succ in ff.successors(node):
                depth[succ] = max(depth[succ], depth[node] + 1)
    return depth


def draw_network(net: Network, ax: Any = None) -> Any:
    """Draw ``net.graph``: nodes in feedforward levels, edges styled by role, a legend.

    Returns the matplotlib figure (a new one when ``ax`` is None).
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    g = net.graph
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 1.2 + 1.1 * max(_depths(g).values(), default=1)))
    else:
        fig = ax.figure
    depth = _depths(g)
    levels: dict[int, list[str]] = {}
    for node in g.nodes:
        levels.setdefault(depth[node], []).append(node)
    pos = {}
    for d, nodes in levels.items():
        for j, node in enumerate(nodes):
            pos[node] = (j - (len(nodes) - 1) / 2, d)
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
        nx.draw_networkx_edges(g, pos, edgelist=edges, ax=ax, edge_color=color, style=style,
                               arrows=True, connectionstyle=f"arc3,rad={rad}",
                               node_size=sizes[0] if sizes else 300)  # fmt: skip
    handles = [Line2D([], [], color=STYLES[r][0], linestyle=STYLES[r][1], label=r) for r in used]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    ax.set_title(f"{net.name}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges")
    ax.set_axis_off()
    return fig
