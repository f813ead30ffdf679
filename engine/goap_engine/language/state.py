"""Read ``vars:`` and ``state:``: typed variables, defaults, sensors, lifetimes.

Variables come first: every expression of an action or goal is compiled
against the complete set of them.  A name two packs declare is known by
``ns.name``; the same name twice in one namespace is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from ..documents import Document, PathKey
from ..model import DEFAULTS, Lifetime, Sensor, SensorSource, StateVar, VarType
from .hooks import HookReading
from .scope import parse_duration, plain_value


class StateReading(HookReading):
    """Read vars and state variables (sensors are hooks)."""

    def collect_vars(self, doc: Document) -> None:
        for name, value in (doc.data.get("vars") or {}).items():
            self.vars[name] = plain_value(value)
            self.var_docs[name] = (doc, doc.where(("vars", name), key=True))

    def collect_state(self, doc: Document) -> None:
        ns = self.ns(doc)
        for short, raw in (doc.data.get("state") or {}).items():
            keys: PathKey = ("state", short)
            where = doc.where(keys, key=True)
            name = self.qualified(doc, short, self.clashing_vars)
            entity = f"state variable '{name}'"
            if (ns, short) in self.declared:
                first = self.declared[(ns, short)].location
                self.error(
                    where,
                    f"already declared at {first} in pack namespace '{ns}' "
                    "(give one of the packs another namespace with 'as:')",
                    entity,
                )
                continue
            spec: dict[str, Any] = {"type": raw} if isinstance(raw, str) else dict(raw)
            type_: VarType = spec["type"]
            choices = tuple(str(c) for c in spec.get("values") or ())
            if type_ == "enum" and not choices:
                self.error(where, "an enum needs 'values'", entity)
                continue
            if type_ != "enum" and choices:
                self.error(
                    doc.where((*keys, "values")),
                    f"'values' is only for enums, this variable is {type_}",
                    entity,
                )
                # Not the default either: one message for the one mistake.
                choices = ()
            low: float | None = plain_value(spec.get("min"))
            high: float | None = plain_value(spec.get("max"))
            if (low is not None or high is not None) and type_ not in ("int", "float"):
                self.error(
                    where, f"min/max apply to int and float, not {type_}", entity
                )
                low = high = None
            if low is not None and high is not None and low > high:
                self.error(doc.where((*keys, "min")), f"min {low} > max {high}", entity)
            default = spec.get(
                "default", choices[0] if choices else DEFAULTS.get(type_)
            )
            default = plain_value(default)
            if (
                type_ == "float"
                and isinstance(default, int)
                and not isinstance(default, bool)
            ):
                default = float(default)
            var = StateVar(
                name=name,
                type=type_,
                default=default,
                index=len(self.variables),
                location=where,
                minimum=low,
                maximum=high,
                choices=choices,
                description=str(spec.get("description", "")),
                pack=doc.path.stem,
            )
            if not var.accepts(default):
                self.error(
                    doc.where((*keys, "default")) if "default" in spec else where,
                    f"default {default!r} is not a valid {type_}"
                    + (
                        f" in [{low}, {high}]"
                        if low is not None or high is not None
                        else ""
                    )
                    + (f" (values: {', '.join(choices)})" if choices else ""),
                    entity,
                )
            if "sense" in spec:
                sensor = self.sensor(doc, (*keys, "sense"), spec["sense"], var)
                var = StateVar(**{**_fields(var), "sensor": sensor})
            if "remember" in spec:
                remember = self.lifetime(doc, (*keys, "remember"), spec, entity)
                var = StateVar(**{**_fields(var), "remember": remember})
            if spec.get("secret") is True:
                self.secret_var(doc, keys, spec, entity)
                var = StateVar(**{**_fields(var), "secret": True})
            self.variables.append(var)
            self.declared[(ns, short)] = var
            self.by_ns.setdefault(ns, {})[short] = var

    def secret_var(
        self, doc: Document, keys: PathKey, spec: Mapping[str, Any], entity: str
    ) -> None:
        """Check a ``secret: true`` variable: text, and never remembered."""
        where = doc.where((*keys, "secret"), key=True)
        if spec["type"] != "str":
            # Redaction finds text; a secret number or flag would be found
            # everywhere or nowhere.
            self.error(
                where,
                f"only a str variable can be secret, this one is {spec['type']}",
                entity,
            )
        if "remember" in spec:
            self.error(
                doc.where((*keys, "remember"), key=True),
                "a secret variable is never stored, so 'remember' does not apply "
                "(its value comes from its sensor or --set in each run)",
                entity,
            )

    def lifetime(
        self, doc: Document, keys: PathKey, spec: Mapping[str, Any], entity: str
    ) -> Lifetime:
        raw = spec["remember"]
        if "sense" in spec:
            # A sensed value is read again every time: it is never remembered.
            self.error(
                doc.where(keys, key=True),
                "'remember' is for unsensed variables; this one has a sensor",
                entity,
            )
            return "always"
        if isinstance(raw, str) and raw.strip() in ("run", "always"):
            return cast(Lifetime, raw.strip())
        seconds = parse_duration(raw)
        if not seconds > 0:
            self.error(
                doc.where(keys),
                f"expected 'run', 'always' or a duration > 0, found {raw!r}",
                entity,
            )
            return "always"
        return seconds

    def sensor(self, doc: Document, keys: PathKey, raw: Any, var: StateVar) -> Sensor:
        hook = self.hook(doc, keys, raw)
        default_from: SensorSource = "value"
        if hook.kind in ("shell", "argv"):
            default_from = "exit" if var.type == "bool" else "stdout"
        source: SensorSource = (
            raw.get("from", default_from) if isinstance(raw, dict) else default_from
        )
        if source == "exit" and var.type != "bool":
            self.error(
                doc.where((*keys, "from")),
                f"'from: exit' gives a bool, but the variable is {var.type}",
                f"state variable '{var.name}'",
            )
        if source == "value" and hook.kind in ("shell", "argv"):
            self.error(
                doc.where((*keys, "from")),
                "a command has no return value: use 'from: exit' or 'from: stdout'",
                f"state variable '{var.name}'",
            )
        timeout = raw.get("timeout") if isinstance(raw, dict) else None
        return Sensor(
            hook,
            source,
            None
            if timeout is None
            else self.timeout(
                doc, (*keys, "timeout"), timeout, f"state variable '{var.name}'"
            ),
        )


def _fields(var: StateVar) -> dict[str, Any]:
    return {f: getattr(var, f) for f in var.__slots__}
