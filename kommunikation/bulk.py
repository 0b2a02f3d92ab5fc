"""One UPDATE for many rows that each get their own values.

Django's ``bulk_update`` builds a ``CASE WHEN pk = ...`` expression tree per row and field,
which costs more CPU than the rules engine spends on an event; this writes the same
statement directly: ``SET f = CASE pk WHEN %s THEN %s ... END`` with parameters.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, router, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

CHUNK = 500  # rows per statement (parameters stay far below SQLite's limit)

_PAUSES = 0
_PAUSE_LOCK = threading.Lock()


@contextmanager
def gc_paused():
    """No cyclic garbage collection inside (reference counting frees as always).

    A batch allocates hundreds of thousands of small objects, and each full collection
    walks every object of the process (the whole of Django): in the rules bench that was
    a quarter of the engine's CPU. The cycles a batch leaves are collected at the next
    collection after it. Threads share the switch: the last one out turns it back on,
    and only if it was on before the first one came in."""
    global _PAUSES
    with _PAUSE_LOCK:
        if _PAUSES == 0:
            gc_paused.was_enabled = gc.isenabled()
            gc.disable()
        _PAUSES += 1
    try:
        yield
    finally:
        with _PAUSE_LOCK:
            _PAUSES -= 1
            if _PAUSES == 0 and gc_paused.was_enabled:
                gc.enable()


gc_paused.was_enabled = True


def update_each(
    model,
    values: Mapping[int, Mapping[str, Any]],
    *,
    same: Mapping[str, Any] | None = None,
    where: Mapping[str, Any] | None = None,
) -> int:
    """Set each row's own `values` (pk -> {field: value}, the same fields for every row)
    and the `same` values for all of them, on the rows that also match `where` (field ->
    value, equality); returns the number of rows changed."""
    if not values:
        return 0
    quote = connection.ops.quote_name
    meta = model._meta
    pk = quote(meta.pk.column)
    fields = list(next(iter(values.values())))
    same, where = dict(same or {}), dict(where or {})

    def prep(name: str, value: Any) -> Any:
        return meta.get_field(name).get_db_prep_save(value, connection)

    if use_copy():
        return _update_from_arrays(model, values, fields, same, where, prep)
    changed = 0
    ids = list(values)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            sets, params = [], []
            for name in fields:
                column = meta.get_field(name).column
                sets.append(
                    f"{quote(column)} = CASE {pk}" + " WHEN %s THEN %s" * len(chunk) + " END"
                )
                for row_id in chunk:
                    params += [row_id, prep(name, values[row_id][name])]
            for name, value in same.items():
                sets.append(f"{quote(meta.get_field(name).column)} = %s")
                params.append(prep(name, value))
            conditions = [f"{pk} IN ({', '.join(['%s'] * len(chunk))})"]
            params += chunk
            for name, value in where.items():
                conditions.append(f"{quote(meta.get_field(name).column)} = %s")
                params.append(prep(name, value))
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} "
                f"WHERE {' AND '.join(conditions)}",
                params,
            )
            changed += cursor.rowcount
    return changed


def _update_from_arrays(model, values, fields, same, where, prep) -> int:
    """PostgreSQL: the rows' values as one array per field, joined by id (``UPDATE ...
    FROM unnest(...)``): a few parameters however many rows, and no CASE that every row
    would walk through."""
    from django.db.models import JSONField

    quote = connection.ops.quote_name
    meta = model._meta
    ids = list(values)
    columns, arrays, sets = [quote(meta.pk.column)], [ids], []
    types = [f"{meta.pk.db_type(connection)}[]"]
    for number, name in enumerate(fields):
        field = meta.get_field(name)
        alias = f"v{number}"
        if isinstance(field, JSONField):
            # as text, cast per row: an array of jsonb parameters would be adapted one by one
            arrays.append([_json_text(values[i][name], field.encoder) for i in ids])
            types.append("text[]")
            sets.append(f"{quote(field.column)} = {alias}::jsonb")
        else:
            arrays.append([prep(name, values[i][name]) for i in ids])
            types.append(f"{field.db_type(connection)}[]")
            sets.append(f"{quote(field.column)} = {alias}")
        columns.append(alias)
    params: list[Any] = []
    for name, value in same.items():
        sets.append(f"{quote(meta.get_field(name).column)} = %s")
        params.append(prep(name, value))
    table = quote(meta.db_table)
    pk = quote(meta.pk.column)
    conditions = [f"{table}.{pk} = _new.{pk}"]
    for name in where:
        conditions.append(f"{table}.{quote(meta.get_field(name).column)} = %s")
    unnest = ", ".join(f"%s::{t}" for t in types)
    sql = (
        f"UPDATE {table} SET {', '.join(sets)} "
        f"FROM unnest({unnest}) AS _new({', '.join(columns)}) "
        f"WHERE {' AND '.join(conditions)}"
    )
    params = params + arrays + [prep(name, value) for name, value in where.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _json_text(value: Any, encoder) -> str | None:
    return None if value is None else json.dumps(value, cls=encoder)


# --- inserting many rows -----------------------------------------------------------------------
#
# ``bulk_create`` spends most of the rules engine's CPU on PostgreSQL: it prepares every
# field of every row through the field's methods and then the driver quotes the UNNEST
# arrays value by value. ``insert_many`` writes the same rows with COPY instead, formatted
# here from the instances' attribute values (the ids are taken from the sequence first, so
# the instances get their pks as with bulk_create). Other databases keep ``bulk_create``.

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _escape(text: str) -> str:
    # most values hold none of the four characters; isprintable() is false for tab,
    # newline and return (and other control characters), much faster than translate
    if text.isprintable() and "\\" not in text:
        return text
    return text.translate(_COPY_ESCAPES)


_JSON = DjangoJSONEncoder(ensure_ascii=False)  # one encoder, not one per value


def _copy_json(value: Any) -> str:
    if value is None:
        return "\\N"
    if not value and value.__class__ in (dict, list):
        return "{}" if value.__class__ is dict else "[]"
    return _escape(_JSON.encode(value))


def _copy_array(value: Any) -> str:
    if value is None:
        return "\\N"
    items = ",".join(
        "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in value
    )
    return _escape("{" + items + "}")


def _copy_text(value: Any) -> str:
    if value.__class__ is str:
        return _escape(value) if value else ""
    return _copy_plain(value)


def _copy_number(value: Any) -> str:
    if value is None:
        return "\\N"
    if value.__class__ is int:
        return str(value)
    return _copy_plain(value)


def _copy_plain(value: Any) -> str:
    if value.__class__ is str:
        return _escape(value) if value else ""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return _escape(str(value))


def _format(kind: str, values: tuple) -> Any:
    """A column's values as COPY text. A column of one simple type is formatted in C
    (datetimes by isoformat, integers by repr, texts as they are when none holds a
    character to escape); any other value by value, as its kind says."""
    types = set(map(type, values))
    if len(types) == 1:
        cls = types.pop()
        if cls is dt.datetime and kind == "plain":
            return map(dt.datetime.isoformat, values)
        if cls is int and kind in ("number", "plain"):
            return map(int.__repr__, values)
        if cls is str and kind in ("text", "plain"):
            whole = "".join(values)
            if whole.isprintable() and "\\" not in whole:
                return values
    return map(_COPY[kind], values)


_COPY = {
    "json": _copy_json,
    "array": _copy_array,
    "text": _copy_text,
    "number": _copy_number,
    "plain": _copy_plain,
}


def _columns(model) -> list[tuple[str, str, str]]:
    """(attribute, column, kind) of the model's concrete fields; kind json, array, text
    (char and text fields), number (integers and relations to them) or plain."""
    from django.contrib.postgres.fields import ArrayField
    from django.db.models import AutoField, CharField, IntegerField, JSONField, TextField

    def kind(field) -> str:
        if isinstance(field, JSONField):
            return "json"
        if isinstance(field, ArrayField):
            return "array"
        if isinstance(field, CharField | TextField):
            return "text"
        target = field.target_field if field.is_relation else field
        if isinstance(target, IntegerField | AutoField):
            return "number"
        return "plain"

    return [(field.attname, field.column, kind(field)) for field in model._meta.concrete_fields]


def _stamp(model, objs) -> None:
    """What ``pre_save`` fills in on insert: auto_now(_add) dates."""
    now = timezone.now()
    for field in model._meta.concrete_fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for obj in objs:
                setattr(obj, field.attname, now)


def _link(model, objs) -> None:
    """The ids of related objects saved after they were assigned (as ``bulk_create``)."""
    for field in model._meta.concrete_fields:
        if not field.is_relation:
            continue
        attname, name = field.attname, field.cache_name
        for obj in objs:
            d = obj.__dict__
            if attname in d and d[attname] is not None:
                continue
            if getattr(obj, attname) is None and name in obj._state.fields_cache:
                related = obj._state.fields_cache[name]
                if related is not None:
                    value = getattr(related, field.target_field.attname)
                    if value is None:
                        raise ValueError(f"{field.name}: unsaved related object")
                    setattr(obj, field.attname, value)


def use_copy() -> bool:
    return connection.vendor == "postgresql"


def copy_rows(cursor, table: str, columns: list[tuple[str, str, str]], objs) -> None:
    """The instances' values as one COPY ... FROM STDIN into `table` (raw psycopg cursor).

    A column holding the same value (of the same type) in every row (a default, the
    batch's time, the step's template key) is formatted once: such columns go last in the
    column list, their text appended to each line as one suffix."""
    if not objs:
        return
    quote = connection.ops.quote_name
    needed = {attname for attname, _c, _k in columns}
    rows = []
    for obj in objs:
        values = obj.__dict__  # the field values (a deferred one is read the usual way)
        if not values.keys() >= needed:
            values = {attname: getattr(obj, attname) for attname in needed}
        rows.append(values)
    # the values column by column (itemgetter and zip run in C, not per value in Python)
    attnames = [attname for attname, _c, _k in columns]
    values_of = itemgetter(*attnames) if len(attnames) > 1 else lambda v: (v[attnames[0]],)
    by_column = list(zip(*map(values_of, rows), strict=True))
    count = len(rows)
    varying, constant, varying_values = [], [], []
    first = rows[0]
    for column, column_values in zip(columns, by_column, strict=True):
        value = column_values[0]
        cls = type(value)
        # the same value (compared by ==, counted in C) and of the same type in every row
        if column_values.count(value) == count and set(map(type, column_values)) == {cls}:
            constant.append(column)
        else:
            varying.append(column)
            varying_values.append(column_values)
    ordered = varying + constant
    names = ", ".join(quote(column) for _a, column, _k in ordered)
    suffix = "".join("\t" + _COPY[kind](first[attname]) for attname, _c, kind in constant)
    if varying:
        formatted = [
            _format(kind, column_values)
            for (_a, _c, kind), column_values in zip(varying, varying_values, strict=True)
        ]
        join = "\t".join
        lines = [join(parts) + suffix for parts in zip(*formatted, strict=True)]
    else:
        lines = [suffix[1:]] * count
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        copy.write("\n".join(lines) + "\n")


_SEQUENCES: dict[tuple[str, str], str] = {}


def take_ids(model, count: int) -> list[int]:
    """`count` new ids from the model's id sequence (PostgreSQL)."""
    meta = model._meta
    with connection.cursor() as cursor:
        # the sequence's name once per table: pg_get_serial_sequence in the select list
        # is evaluated per row and costs ten times the nextval
        key = (connection.settings_dict["NAME"], meta.db_table)
        sequence = _SEQUENCES.get(key)
        if sequence is None:
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column])
            sequence = _SEQUENCES[key] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count]
        )
        return [row[0] for row in cursor.fetchall()]


def insert_many(model, objs: list) -> list:
    """Insert the new instances (pks set afterwards) as ``bulk_create`` would; with COPY on
    PostgreSQL. A unique constraint broken raises IntegrityError as there."""
    if not objs:
        return objs
    if not use_copy():
        return model.objects.bulk_create(objs, batch_size=1000)
    _stamp(model, objs)
    _link(model, objs)
    for obj, pk in zip(objs, take_ids(model, len(objs)), strict=True):
        obj.pk = pk
    with connection.cursor() as cursor, connection.wrap_database_errors:
        copy_rows(
            cursor.cursor, connection.ops.quote_name(model._meta.db_table), _columns(model), objs
        )
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


def insert_new(model, objs: list, *, key: str, mark: str) -> dict[Any, int]:
    """Insert the new instances unless their unique `key` field is taken (ON CONFLICT DO
    NOTHING); returns key value -> new pk of the rows inserted by this call. PostgreSQL:
    COPY into a temporary table, then one INSERT ... SELECT ... RETURNING; elsewhere
    ``bulk_create`` and a look-up, a row being ours when its `mark` field (unique per
    instance) is the instance's."""
    if not objs:
        return {}
    meta = model._meta
    quote = connection.ops.quote_name
    key_column = meta.get_field(key).column
    if not use_copy():
        model.objects.bulk_create(objs, batch_size=1000, ignore_conflicts=True)
        marks = {getattr(o, key): getattr(o, mark) for o in objs}
        stored = model.objects.filter(**{f"{key}__in": list(marks)}).values_list(key, "pk", mark)
        return {k: pk for k, pk, m in stored if marks[k] == m}
    _stamp(model, objs)
    _link(model, objs)
    table = quote(meta.db_table)
    # usually no key is taken (new rows): COPY straight into the table; a key stored
    # before (a repeated call) or by another writer meanwhile breaks the unique
    # constraint, and the savepoint takes the rows back to the ON CONFLICT path below
    try:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
            for obj, pk in zip(objs, take_ids(model, len(objs)), strict=True):
                obj.pk = pk
            copy_rows(cursor.cursor, table, _columns(model), objs)
    except IntegrityError:
        for obj in objs:
            obj.pk = None
    else:
        return {getattr(obj, key): obj.pk for obj in objs}
    columns = [c for c in _columns(model) if c[0] != meta.pk.attname]
    names = ", ".join(quote(column) for _a, column, _k in columns)
    scratch = quote(f"_insert_{meta.db_table}")
    # the scratch table lives for the transaction (so it always has today's columns)
    with (
        transaction.atomic(savepoint=False),
        connection.cursor() as cursor,
        connection.wrap_database_errors,
    ):
        raw = cursor.cursor
        raw.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DROP "
            f"AS SELECT {names} FROM {table} WITH NO DATA"
        )
        raw.execute(f"TRUNCATE {scratch}")
        copy_rows(raw, scratch, columns, objs)
        raw.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {scratch} "
            f"ON CONFLICT DO NOTHING RETURNING {quote(key_column)}, {quote(meta.pk.column)}"
        )
        stored = dict(raw.fetchall())
    return stored


# --- building many instances -------------------------------------------------------------------
#
# ``Model.__init__`` walks every field of the model per instance (and through the related
# descriptors for each relation); the rules engine makes several instances per event.
# ``build`` gives the same instance from the values and the fields' defaults worked out once
# per model.

_SPECS: dict = {}


def _spec(model):
    # keyed by the number of init receivers too: a receiver connected later is seen
    key = (model, len(pre_init.receivers), len(post_init.receivers))
    spec = _SPECS.get(key)
    if spec is None:
        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            spec = _SPECS[key] = None
            return None
        static, factories, relations, names = {}, [], {}, set()
        for field in model._meta.concrete_fields:
            names.add(field.attname)
            if field.is_relation:
                relations[field.name] = field
            if field.has_default() and callable(field.default):
                factories.append((field.attname, field.name, field.default))
            else:
                static[field.attname] = field.get_default()
        spec = _SPECS[key] = (static, factories, relations, frozenset(names | set(relations)))
    return spec


def build(model, **values):
    """``model(**values)``, unsaved, without ``Model.__init__``'s per-field walk: the
    fields' defaults, then the values by attribute name (``brand_id``) or, for a relation,
    by field name with the related instance (``brand``), cached as the descriptor does.
    Models with init signals are built the ordinary way."""
    spec = _spec(model)
    if spec is None:
        return model(**values)
    static, factories, relations, known = spec
    if not values.keys() <= known:
        unknown = sorted(values.keys() - known)[0]
        raise TypeError(f"{model.__name__}() got an unexpected keyword argument {unknown!r}")
    obj = model.__new__(model)
    state = obj._state = ModelState()
    d = obj.__dict__
    d.update(static)
    for attname, name, factory in factories:
        if attname not in values and name not in values:
            d[attname] = factory()
    # the plain values in one go; the relations (by field name) are taken out again
    d.update(values)
    for key in relations.keys() & values.keys():
        field = relations[key]
        value = d.pop(key)
        cache = state.fields_cache
        cache[key] = value
        if value is None:
            d[field.attname] = None
            continue
        d[field.attname] = getattr(value, field.target_field.attname)
        if state.db is None:
            state.db = router.db_for_write(model, instance=value)
        if value._state.db is None:
            value._state.db = router.db_for_write(value.__class__, instance=obj)
        if not field.remote_field.multiple:  # one-to-one: the reverse side knows us too
            field.remote_field.set_cached_value(value, obj)
    return obj


def fetch(queryset, *, related: tuple[str, ...] = ()) -> list:
    """The queryset's instances, as iterating it (with ``select_related(*related)``, forward
    relations one level deep) gives them, but built from one ``values_list`` of the
    concrete fields without ``Model.__init__`` per row. Models with init signals, and
    querysets with deferred fields or annotations, are loaded the ordinary way."""
    model = queryset.model
    models = [model] + [model._meta.get_field(name).related_model for name in related]
    query = queryset.query
    if (
        any(_spec(m) is None for m in models)
        or query.deferred_loading != (frozenset(), True)
        or query.annotations
        or query.extra
    ):
        return list(queryset.select_related(*related) if related else queryset)
    attnames = [f.attname for f in model._meta.concrete_fields]
    columns = list(attnames)
    parts = []
    for name in related:
        field = model._meta.get_field(name)
        names = [f.attname for f in field.related_model._meta.concrete_fields]
        pk = field.related_model._meta.pk.attname
        start = len(columns)
        columns += [f"{name}__{n}" for n in names]
        parts.append((name, field.related_model, names, start, start + names.index(pk)))
    db = queryset.db
    count = len(attnames)
    objs = []
    for row in _rows(queryset.values_list(*columns)):
        obj = model.__new__(model)
        state = obj._state = ModelState()
        state.adding, state.db = False, db
        obj.__dict__.update(zip(attnames, row[:count], strict=True))
        for name, other, names, start, pk_at in parts:
            if row[pk_at] is None:
                state.fields_cache[name] = None
                continue
            rel = other.__new__(other)
            rel_state = rel._state = ModelState()
            rel_state.adding, rel_state.db = False, db
            rel.__dict__.update(zip(names, row[start : start + len(names)], strict=True))
            state.fields_cache[name] = rel
        objs.append(obj)
    return objs


def _rows(queryset) -> list:
    """The rows of a values_list queryset, as iterating it gives them (the fields'
    converters applied), with PostgreSQL's timestamps read by psycopg's C loader.

    Django reads every timestamptz through a loader of its own in Python (the parse, then
    the time zone set to UTC): for the events and customers of a batch that was a tenth of
    the engine's time. The C loader gives the same value whenever the session's time zone
    is UTC, which Django keeps it at with USE_TZ (then its own loader's zone is UTC too);
    otherwise the rows are read the ordinary way."""
    from django.db import connections

    database = connections[queryset.db]
    compiler = queryset.query.get_compiler(using=queryset.db)
    if database.vendor != "postgresql" or database.timezone is not dt.UTC:
        return list(queryset)
    from django.core.exceptions import EmptyResultSet
    from psycopg.types.datetime import TimestamptzLoader

    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return []
    with database.cursor() as cursor:
        raw = cursor.cursor
        if raw.connection.info.parameter_status("TimeZone") != "UTC":
            return list(queryset)
        # on this cursor only (its own copy of the adapters): psycopg takes its C version
        raw.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # results_iter takes the rows as a list of chunks
    return list(compiler.results_iter(results=[rows], tuple_expected=True))
