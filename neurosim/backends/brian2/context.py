"""Lowering state: where each IR variable lives in brian2 and how ops reach it.

Placement rules
---------------
* Every per-sample variable (state, current, input) lives in one ``NeuronGroup``:
  the group of its population (``Variable.population``, else the name's prefix), one
  group per (population, size). A projection current without a population lives in
  the group of the op that consumes it, so the ``(summed)`` variable lands where it
  is integrated.
* An op runs on the group of the variable it writes; a variable of another group
  that it reads becomes a ``(linked)`` variable (no copy, always the current value).
* A dense weight ``"P.W"`` is one ``Synapses`` object from the group of its
  presynaptic variable to the group of its output current.
"""

from __future__ import annotations

from neurosim.backends.brian2.plan import Action, Clock, GroupSpec, Plan, SynapseSpec, sanitize
from neurosim.ir import DenseProjection, LocalPlasticity, Model


class LoweringContext:
    """Mutable state of one lowering pass (see :func:`~neurosim.backends.brian2.lowering.lower`)."""

    def __init__(
        self, model: Model, plan: Plan, plasticity: str | None, event_driven: bool = False
    ) -> None:
        self.model = model
        self.plan = plan
        self.plasticity = plasticity
        self.event_driven = event_driven
        self.online_weights = {
            w for op in model.plasticity_ops for w in op.updates if plasticity == "online"
        }
        self.spike_sources: dict[str, dict] = {}
        #: event-driven projections waiting for their source's spikes: dst -> actions
        self.pending_events: dict[str, list[Action]] = {}
        self.spiked: set[str] = set()  # SpikeSoma dsts whose step action is emitted
        self.spike_init: set[str] = set()  # SpikeSoma dsts with an init-clock SpikeSoma
        self.deferred_event_init: list[Action] = []
        self.hoisted: set[str] = set()
        #: per-sample variables constant within a sample from its initial state on (static
        #: inputs; see lowering.lower)
        self.invariant: set[str] = set()
        self.no_zero: set[str] = set()
        self.no_zero_local: set[tuple[str, str]] = set()
        self.noise_seeds: list[int | None] = []
        self.deferred_init: list[LocalPlasticity] = []
        self._weight_syn: dict[str, str] = {}
        self._place_variables()

    # -- placement -------------------------------------------------------------------
    def _place_variables(self) -> None:
        consumers: dict[str, str] = {}
        for op in self.model.init_ops + self.model.step_ops:
            for r in op.reads:
                if op.writes:
                    consumers.setdefault(r, op.writes[0])
        pending = []
        for var in self.model.variables.values():
            if var.kind == "parameter":
                continue
            if var.population is None and var.kind == "current" and var.name in consumers:
                pending.append(var)
                continue
            pop = var.population or var.name.rsplit(".", 1)[0]
            self._put(var.name, pop, var.size)
        for _ in range(len(pending) + 1):
            left = []
            for var in pending:
                owner = consumers[var.name]
                if owner in self.plan.homes:
                    self._put(var.name, None, var.size, self.plan.homes[owner])
                else:
                    left.append(var)
            pending = left
        for var in pending:
            self._put(var.name, var.name.rsplit(".", 1)[0], var.size)

    def _put(self, name: str, pop: str | None, size: int, key: str | None = None) -> None:
        if key is None:
            key = sanitize(pop or name)
            if key in self.plan.groups and self.plan.groups[key].size != size:
                key = f"{key}_n{size}"
        if key in self.plan.groups and self.plan.groups[key].size != size:
            raise ValueError(
                f"brian2 backend: variable '{name}' has size {size} but its group '{key}' "
                f"has size {self.plan.groups[key].size}; give it its own population"
            )
        group = self.plan.groups.setdefault(key, GroupSpec(key, size))
        group.add(sanitize(name))
        self.plan.homes[name] = key

    def home(self, var: str) -> str:
        """Group key of a per-sample IR variable."""
        if var not in self.plan.homes:
            kind = self.model.variables[var].kind
            raise ValueError(
                f"brian2 backend: '{var}' is a {kind}; ops other than projections and "
                "plasticity can only read per-sample variables (state, current, input)"
            )
        return self.plan.homes[var]

    def ref(self, var: str, group: str) -> str:
        """Local name of ``var`` inside ``group``, linking it in from its home if needed."""
        home, name = self.home(var), sanitize(var)
        if home == group:
            return name
        g, h = self.plan.groups[group], self.plan.groups[home]
        if g.size != h.size:
            raise ValueError(
                f"brian2 backend: group '{group}' (size {g.size}) reads '{var}' of group "
                f"'{home}' (size {h.size}); an elementwise op needs equal sizes, use a "
                "DenseProjection to map between sizes"
            )
        g.links[name] = (home, name)
        return name

    # -- synapses --------------------------------------------------------------------
    def synapse(self, weight: str, pre: str, out: str) -> SynapseSpec:
        """The ``Synapses`` of ``weight`` (created on first use)."""
        src, tgt = self.home(pre), self.home(out)
        key = self._weight_syn.get(weight)
        if key is None:
            key = f"syn_{sanitize(weight)}"
            shape = self.model.variables[weight].shape
            n_post, n_pre = shape
            if (n_pre, n_post) != (self.plan.groups[src].size, self.plan.groups[tgt].size):
                raise ValueError(
                    f"brian2 backend: weight '{weight}' has shape {shape} but maps "
                    f"'{pre}' (size {self.plan.groups[src].size}) to '{out}' "
                    f"(size {self.plan.groups[tgt].size}); expected (n_post, n_pre)"
                )
            self.plan.synapses[key] = SynapseSpec(key, weight, src, tgt, n_pre, n_post)
            self._weight_syn[weight] = key
        syn = self.plan.synapses[key]
        if (syn.source, syn.target) != (src, tgt):
            raise ValueError(
                f"brian2 backend: weight '{weight}' is used between '{syn.source}'->"
                f"'{syn.target}' and '{src}'->'{tgt}'; one weight needs one pre/post pair"
            )
        return syn

    def synapse_of_weight(self, weight: str) -> str:
        """Synapses key carrying ``weight`` (it must be used by a DenseProjection)."""
        if weight not in self._weight_syn:
            for op in self.model.init_ops + self.model.step_ops:
                if isinstance(op, DenseProjection) and op.weight == weight:
                    self.synapse(op.weight, op.pre, op.out)
        if weight not in self._weight_syn:
            raise ValueError(
                f"brian2 backend: plasticity on '{weight}', which no DenseProjection uses"
            )
        return self._weight_syn[weight]

    def softmax_denominator(self, op, clock: Clock) -> str:
        """A per-sample ``sum_j exp(r_j)`` as a ``(summed)`` all-to-all synapse."""
        src, tgt = self.home(op.output), self.home(op.out)
        n = self.plan.groups[src].size
        key = f"red_{sanitize(op.name)}"
        var = f"sumexp_{sanitize(op.name)}"
        syn = SynapseSpec(key, "", src, tgt, n, n, variables=[])
        syn.summed[var] = f"exp({sanitize(op.output)}_pre)"
        syn.summed_clock[var] = clock
        self.plan.synapses[key] = syn
        self.plan.groups[tgt].add(var)
        self.emit(Action(f"{op.name}_sumexp", key, clock, op.name, kind="summed", target=var))
        return var

    # -- actions ---------------------------------------------------------------------
    def emit(self, action: Action) -> None:
        names = {a.name for a in self.plan.actions}
        if action.name in names:
            action.name = f"{action.name}_{action.clock}"
        self.plan.actions.append(action)

    def emit_input(self, var: str) -> None:
        g, name = self.home(var), sanitize(var)
        ta = f"ta_{name}"
        self.plan.inputs[var] = ta
        # row of the 2-D TimedArray: the sample (static input) or, for time-varying
        # inputs, sample*(T-1) + (step that is being computed) - 1 (init reads row 0)
        row = "(t_in_timesteps // T_sample)"
        if self.model.variables[var].time_varying:
            k = "(t_in_timesteps % T_sample)"
            row = f"({row}*(T_sample - 1) + {k} - 1 + int({k} == 0))"
        code = f"{name} = {ta}({row}*ta_unit, i)"
        self.emit(Action(f"input_{name}", g, "step", "input", code))

    def emit_zeroing(self) -> None:
        """Init: every per-sample state/current variable is zeroed (``Model.init_ops``)."""
        keep = {sanitize(v.name) for v in self.model.of_kind("input")}
        keep |= {sanitize(v) for v in self.no_zero}
        keep |= {sanitize(b) for b in self.plan.biases}
        for key, g in self.plan.groups.items():
            names = [
                v
                for v in g.variables
                if v not in keep and (key, v) not in self.no_zero_local and "__init" not in v
            ]
            if names:
                code = "\n".join(f"{v} = 0.0" for v in names)
                self.emit(Action(f"zero_{key}", key, "init", "zero", code))
