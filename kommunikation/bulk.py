"""One UPDATE for many rows that each get their own values.

Django's ``bulk_update`` builds a ``CASE WHEN pk = ...`` expression tree per row and field,
which costs more CPU than the rules engine spends on an event; this writes the same
statement directly: ``SET f = CASE pk WHEN %s THEN %s ... END`` with parameters.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from operator import attrgetter
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

CHUNK = 500  # rows per statement (parameters stay far below SQLite's limit)


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


# --- inserting many rows -----------------------------------------------------------------------
#
# ``bulk_create`` spends most of the rules engine's CPU on PostgreSQL: it prepares every
# field of every row through the field's methods and then the driver quotes the UNNEST
# arrays value by value. ``insert_many`` writes the same rows with COPY instead, formatted
# here from the instances' attribute values (the ids are taken from the sequence first, so
# the instances get their pks as with bulk_create). Other databases keep ``bulk_create``.

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_json(value: Any) -> str:
    if value is None:
        return "\\N"
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_COPY_ESCAPES)


def _copy_array(value: Any) -> str:
    if value is None:
        return "\\N"
    items = ",".join(
        "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
        for v in value
    )
    return ("{" + items + "}").translate(_COPY_ESCAPES)


def _copy_plain(value: Any) -> str:
    if value.__class__ is str:
        return value.translate(_COPY_ESCAPES) if value else ""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


_COPY = {"json": _copy_json, "array": _copy_array, "plain": _copy_plain}


def _columns(model) -> list[tuple[str, str, str]]:
    """(attribute, column, kind) of the model's concrete fields; kind json, array or plain."""
    from django.contrib.postgres.fields import ArrayField
    from django.db.models import JSONField

    return [
        (
            field.attname,
            field.column,
            "json"
            if isinstance(field, JSONField)
            else "array"
            if isinstance(field, ArrayField)
            else "plain",
        )
        for field in model._meta.concrete_fields
    ]


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
        for obj in objs:
            if getattr(obj, field.attname) is None and field.is_cached(obj):
                related = field.get_cached_value(obj)
                if related is not None:
                    value = getattr(related, field.target_field.attname)
                    if value is None:
                        raise ValueError(f"{field.name}: unsaved related object")
                    setattr(obj, field.attname, value)


def use_copy() -> bool:
    return connection.vendor == "postgresql"


def copy_rows(cursor, table: str, columns: list[tuple[str, str, str]], objs) -> None:
    """The instances' values as one COPY ... FROM STDIN into `table` (raw psycopg cursor)."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for _a, column, _k in columns)
    getters = [(attrgetter(attname), _COPY[kind]) for attname, _c, kind in columns]
    lines = ["\t".join([fmt(get(obj)) for get, fmt in getters]) for obj in objs]
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        copy.write("\n".join(lines) + "\n")


def take_ids(model, count: int) -> list[int]:
    """`count` new ids from the model's id sequence (PostgreSQL)."""
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
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
    columns = [c for c in _columns(model) if c[0] != meta.pk.attname]
    names = ", ".join(quote(column) for _a, column, _k in columns)
    table = quote(meta.db_table)
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
