"""The API-model check: every request synlink sent and every answer the emulator gave,
read from the emulator's request log, checked against Azure's published models for that
operation and api-version.

Usage: python api_models.py LOG.json     (the JSON of GET {URL}/_emulator/requests)

Prints one line per violation and exits 1 when there is any, 0 otherwise. What it owns:
the schema representation (Model, Prop, Enum), the loader that turns the official
msrest-generated Python models (their `_attribute_map`, `_validation` and `_subtype_map`)
into that representation, the rules (unknown or miscased properties, closed-enum
violations, read-only properties sent, required ones missing, wrong types, nulls where
the definition has no x-nullable) and the log walk. What it does not own: which
operation, api-version and model a URL maps to, and the models no package covers; those
are in api_definitions.py.

A log entry is `{seq, method, path (with query), status, body, responseBody?,
responseHeaders?}`; `body` is the JSON request body (null when none). Without
`responseBody` only the request is checked, and the summary says how many answers were
not.
"""

import json
import re
import sys

STRING = "string"
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
ANY = "any"


class Enum:
    """A set of allowed strings; `closed` when the definition says modelAsString: false."""

    def __init__(self, name, values, closed, source):
        self.name = name
        self.values = tuple(values)
        self.closed = closed
        self.source = source


class Prop:
    def __init__(self, type_, readonly=False, required=False, nullable=False):
        self.type = type_
        self.readonly = readonly
        self.required = required
        self.nullable = nullable


class Model:
    """An object definition: its properties by wire name, an optional discriminator
    (wire name and subtypes by value), an optional additionalProperties type (a map)."""

    def __init__(self, name, source, props=None, discriminator=None, subtypes=None, additional=None):
        self.name = name
        self.source = source
        self.props = dict(props or {})
        self.discriminator = discriminator
        self.subtypes = dict(subtypes or {})
        self.additional = additional

    def extended(self, name, source, props):
        """A copy with more properties (allOf / a later revision of the same definition)."""
        merged = dict(self.props)
        merged.update(props)
        return Model(name, source, merged, self.discriminator, self.subtypes, self.additional)


def array(t):
    return ("array", t)


def mapping(t):
    return ("map", t)


def P(type_, ro=False, req=False, null=False):
    return Prop(type_, readonly=ro, required=req, nullable=null)


# ---------------------------------------------------------------------------------------
# msrest models -> Model

_MSREST_SCALARS = {
    "str": STRING,
    "int": INTEGER,
    "long": INTEGER,
    "float": NUMBER,
    "decimal": NUMBER,
    "bool": BOOLEAN,
    "iso-8601": STRING,
    "rfc-1123": STRING,
    "duration": STRING,
    "date": STRING,
    "unix-time": INTEGER,
    "bytearray": STRING,
    "base64": STRING,
    "object": ANY,
}


def _split_key(key):
    """msrest flattens with dots; an escaped dot (`\\.`) is part of a name."""
    parts = re.split(r"(?<!\\)\.", key)
    return [p.replace("\\.", ".") for p in parts]


class MsrestModels:
    """Loads Model objects from one msrest models module, caching by class name so that
    recursive definitions (ErrorDetail.details) terminate."""

    def __init__(self, module, source, closed_enums=None, nullable=()):
        self.module = module
        self.source = source
        self.closed_enums = closed_enums or {}
        self.nullable = set(nullable)
        self.cache = {}

    def model(self, name):
        if name in self.cache:
            return self.cache[name]
        cls = getattr(self.module, name)
        m = Model(name, self.source)
        self.cache[name] = m
        validation = getattr(cls, "_validation", {}) or {}
        for attr, spec in cls._attribute_map.items():
            path = _split_key(spec["key"])
            rules = validation.get(attr, {})
            target = m
            for i, part in enumerate(path[:-1]):
                holder = target.props.get(part)
                if holder is None or not isinstance(holder.type, Model):
                    nested = Model(f"{name}.{'.'.join(path[: i + 1])}", self.source)
                    holder = Prop(nested)
                    target.props[part] = holder
                target = holder.type
            wire = path[-1]
            t = self.type_of(spec["type"])
            enum = self.closed_enums.get((name, spec["key"]))
            if enum is not None:
                t = enum
            target.props[wire] = Prop(
                t,
                readonly=bool(rules.get("readonly")),
                required=bool(rules.get("required")),
                nullable=(name, spec["key"]) in self.nullable,
            )
        subtype_map = getattr(cls, "_subtype_map", None) or {}
        for attr, subs in subtype_map.items():
            m.discriminator = cls._attribute_map[attr]["key"]
            for value, sub in subs.items():
                m.subtypes[value] = sub  # resolved lazily (a subtype derives from m)
        return m

    def subtype(self, base, value):
        sub = base.subtypes.get(value)
        if isinstance(sub, str):
            sub = self.model(sub)
            base.subtypes[value] = sub
        return sub

    def type_of(self, t):
        if t in _MSREST_SCALARS:
            return _MSREST_SCALARS[t]
        if t.startswith("[") and t.endswith("]"):
            return array(self.type_of(t[1:-1]))
        if t.startswith("{") and t.endswith("}"):
            return mapping(self.type_of(t[1:-1]))
        return self.model(t)


# ---------------------------------------------------------------------------------------
# The rules


class Violation:
    def __init__(self, entry, op, direction, field, kind, detail, source):
        self.seq = entry.get("seq")
        self.method = entry.get("method")
        self.path = entry.get("path")
        self.status = entry.get("status")
        self.op = op
        self.direction = direction
        self.field = field
        self.kind = kind
        self.detail = detail
        self.source = source

    @property
    def at_fault(self):
        return "engine (request)" if self.direction == "request" else "emulator (answer)"

    def line(self):
        return (
            f"[{self.at_fault}] {self.op.name} {self.op.api_version}: {self.field or '(body)'}: "
            f"{self.kind}: {self.detail} (definition: {self.source}; "
            f"#{self.seq} {self.method} {self.path} -> {self.status})"
        )

    def as_dict(self):
        return {
            "atFault": self.at_fault,
            "operation": self.op.name,
            "apiVersion": self.op.api_version,
            "field": self.field,
            "kind": self.kind,
            "detail": self.detail,
            "definition": self.source,
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "status": self.status,
        }


def _show(v):
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def _join(path, key):
    return f"{path}.{key}" if path else key


class Checker:
    def __init__(self, entry, op, direction, out):
        self.entry = entry
        self.op = op
        self.direction = direction
        self.out = out

    def report(self, field, kind, detail, source):
        self.out.append(Violation(self.entry, self.op, self.direction, field, kind, detail, source))

    def value(self, v, t, path, source):
        if t == ANY:
            return
        if isinstance(t, Model):
            self.model(v, t, path)
        elif isinstance(t, Enum):
            if not isinstance(v, str):
                self.report(path, "wrong type", f"{_show(v)} where the definition has a string enum {t.name}", t.source)
            elif t.closed and v not in t.values:
                self.report(
                    path,
                    "closed enum violated",
                    f"{_show(v)} is not one of {list(t.values)} ({t.name}, modelAsString: false)",
                    t.source,
                )
        elif isinstance(t, tuple) and t[0] == "array":
            if not isinstance(v, list):
                self.report(path, "wrong type", f"{_show(v)} where the definition has an array", source)
                return
            for i, item in enumerate(v):
                self.item(item, t[1], f"{path}[{i}]", source)
        elif isinstance(t, tuple) and t[0] == "map":
            if not isinstance(v, dict):
                self.report(path, "wrong type", f"{_show(v)} where the definition has an object (map)", source)
                return
            for k, item in v.items():
                self.item(item, t[1], _join(path, k), source)
        else:
            ok = {
                STRING: isinstance(v, str),
                BOOLEAN: isinstance(v, bool),
                INTEGER: isinstance(v, int) and not isinstance(v, bool),
                NUMBER: isinstance(v, (int, float)) and not isinstance(v, bool),
            }[t]
            if not ok:
                self.report(path, "wrong type", f"{_show(v)} where the definition has {t}", source)

    def item(self, v, t, path, source):
        if v is None:
            self.report(path, "null not allowed", "null where the definition has no x-nullable", source)
        else:
            self.value(v, t, path, source)

    def model(self, v, m, path):
        if not isinstance(v, dict):
            self.report(path, "wrong type", f"{_show(v)} where the definition has an object ({m.name})", m.source)
            return
        props = dict(m.props)
        if m.discriminator and isinstance(v.get(m.discriminator), str):
            sub = self.op.resolve_subtype(m, v[m.discriminator])
            if sub is not None:
                props.update(sub.props)
        lower = {k.lower(): k for k in props}
        for key, item in v.items():
            prop = props.get(key)
            if prop is None:
                if m.additional is not None:
                    self.item(item, m.additional, _join(path, key), m.source)
                elif key.lower() in lower:
                    self.report(
                        _join(path, key),
                        "miscased property",
                        f"{key!r} where the definition names it {lower[key.lower()]!r} ({m.name})",
                        m.source,
                    )
                else:
                    self.report(_join(path, key), "unknown property", f"{key!r} is not defined in {m.name}", m.source)
                continue
            if self.direction == "request" and prop.readonly:
                self.report(_join(path, key), "read-only property sent", f"{_show(item)} ({m.name}.{key} is readOnly)", m.source)
            if item is None:
                if not prop.nullable:
                    self.report(
                        _join(path, key), "null not allowed", f"null where {m.name}.{key} has no x-nullable", m.source
                    )
                continue
            self.value(item, prop.type, _join(path, key), m.source)
        for key, prop in props.items():
            if not prop.required or key in v:
                continue
            if self.direction == "request" and prop.readonly:
                continue
            self.report(_join(path, key), "required property missing", f"{m.name}.{key} is required", m.source)


# ---------------------------------------------------------------------------------------
# The log walk


def _split_path(path):
    base, _, query = path.partition("?")
    params = {}
    for pair in query.split("&") if query else []:
        k, _, v = pair.partition("=")
        params[k.lower()] = v
    return base, params


def check_entry(entry, routes, out):
    """Checks one log entry; returns 'checked', 'skipped' or 'unmatched'."""
    base, params = _split_path(entry.get("path", ""))
    method = entry.get("method", "")
    status = entry.get("status") or 0
    if routes.skipped(base):
        return "skipped", False
    op = routes.match(method, base, params.get("api-version"))
    if op is None:
        return "unmatched", False
    if op.api_version_mismatch:
        out.append(
            Violation(
                entry,
                op,
                "request",
                "api-version",
                "api-version without a definition",
                f"{params.get('api-version')!r}; the definitions checked cover {op.api_version}",
                op.source,
            )
        )
        return "checked", "responseBody" in entry
    body = entry.get("body")
    if op.request is not None and body is not None:
        Checker(entry, op, "request", out).value(body, op.request, "", op.source)
    elif op.request is None and body not in (None, {}):
        Checker(entry, op, "request", out).report("", "unexpected body", f"{op.name} takes no body", op.source)
    if "responseBody" not in entry:
        return "checked", False
    answer = entry.get("responseBody")
    if answer is None:
        return "checked", True
    model = op.response_for(status)
    if model is not None:
        Checker(entry, op, "response", out).value(answer, model, "", op.source)
    return "checked", True


def check_log(entries, routes):
    """Returns (violations, counts)."""
    out = []
    counts = {"checked": 0, "skipped": 0, "unmatched": 0, "answersChecked": 0, "answersWithoutBody": 0}
    unmatched = []
    for entry in entries:
        kind, answer_seen = check_entry(entry, routes, out)
        counts[kind] += 1
        if kind == "checked":
            counts["answersChecked" if answer_seen else "answersWithoutBody"] += 1
        if kind == "unmatched":
            unmatched.append(entry)
    for entry in unmatched:
        op = routes.unknown_operation()
        out.append(
            Violation(
                entry,
                op,
                "request",
                "",
                "operation without a definition",
                "no operation of the definitions checked has this method, path and api-version",
                op.source,
            )
        )
    return out, counts


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: api_models.py LOG.json")
    with open(argv[1], encoding="utf-8") as f:
        log = json.load(f)
    entries = log["value"] if isinstance(log, dict) else log
    # Imported by name, not run as __main__, so that the definitions and the rules share
    # one set of classes; api_definitions needs the SDK packages.
    import api_models
    from api_definitions import ROUTES

    violations, counts = api_models.check_log(entries, ROUTES)
    for v in violations:
        print(v.line())
    print(
        "api-models: {n} violation(s); {checked} requests checked, {answersChecked} answers checked, "
        "{answersWithoutBody} answers without a logged body, {skipped} token/control requests skipped".format(
            n=len(violations), **counts
        ),
        flush=True,
    )
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
