"""Several new rows of different tables written by one SQL statement.

A report writes four rows (the ticket, the message as it came, the report event, the
receipt), and each INSERT through the ORM is a statement of its own: a round trip, a
parse, an executor start, and Model.save's bookkeeping, about a fifth of an SMS
delivery's cost. On PostgreSQL `insert_together` sends them as the data-modifying
parts of one WITH statement instead: all of them are written or none, and the
foreign keys, deferred to the commit as Django declares them, hold as they would.

The SQL of each INSERT is made by Django's own insert compiler, so every field is
prepared as Model.save prepares it (defaults, auto_now_add, JSON, choices). What the
statement cannot return to Python is a primary key a row is given by its sequence:
a row that others point to must come with its id (`next_ids`). SQLite (the embedded
demo) cannot put an INSERT in a WITH: each row is saved on its own there.
"""

import itertools
import re
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


def next_ids(*models: type[Model]) -> list[int]:
    """Reserve the next primary key of each model's identity sequence, in one statement (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["nextval(pg_get_serial_sequence(%s, 'id'))"] * len(models)),
                       [model._meta.db_table for model in models])
        return list(cursor.fetchone())


# (model, with its id, ignoring conflicts) -> the SQL of one such row's INSERT, when its
# values are all plain parameters: the SQL then depends on the model alone. Compiling
# the four INSERTs anew cost a report about 0.7 ms of CPU, a tenth of an SMS delivery.
_single_row_sql: dict[tuple[type[Model], bool, bool], str] = {}


def _fields(model: type[Model], *, has_pk: bool) -> list:
    meta = model._meta
    return [f for f in meta.local_concrete_fields
            if not getattr(f, "generated", False) and (has_pk or f is not meta.auto_field)]


def _values(row: Model, fields: list) -> list | None:
    """Return the row's values as the insert compiler prepares plain ones, or None when one
    is an expression (its SQL is its own)."""
    values = []
    for field in fields:
        value = field.pre_save(row, add=True)
        if hasattr(value, "resolve_expression"):
            return None
        values.append(field.get_db_prep_save(value, connection=connection))
    return values


def _insert_sql(rows: Sequence[Model], *, ignore_conflicts: bool) -> tuple[str, list]:
    model = type(rows[0])
    has_pk = rows[0].pk is not None
    fields = _fields(model, has_pk=has_pk)
    key = (model, has_pk, ignore_conflicts)
    if len(rows) == 1 and key in _single_row_sql and (values := _values(rows[0], fields)) is not None:
        return _single_row_sql[key], values
    # Read before compiling: the compiler's pre_save gives auto_now fields their time.
    plain = len(rows) == 1 and not any(
        hasattr(f, "get_placeholder") or hasattr(getattr(rows[0], f.attname), "resolve_expression") for f in fields)
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
    query.insert_values(fields, list(rows), raw=False)
    statements = query.get_compiler(connection=connection).as_sql()
    if len(statements) != 1:
        raise ValueError("rows of one model must make one INSERT statement")
    sql, params = statements[0]
    if plain and len(params) == len(fields):
        _single_row_sql[key] = sql
    return sql, list(params)


def insert_together(*rows: Model, ignore_conflicts: Sequence[Model] = ()) -> None:
    """INSERT the new rows, each its own part, all in one statement.

    `ignore_conflicts` rows are written unless a unique constraint already holds their
    key (bulk_create's ignore_conflicts). A row whose id comes from its sequence gets
    no id back: give any row another one points to its id first (next_ids).
    """
    groups = [([row], False) for row in rows]
    if ignore_conflicts:
        groups.append((list(ignore_conflicts), True))
    if not groups:
        return
    if connection.vendor != "postgresql":
        for group, ignore in groups:
            if ignore:
                type(group[0]).objects.bulk_create(group, ignore_conflicts=True)
            else:
                for row in group:
                    row.save(force_insert=True)
        return
    parts, params = [], []
    for group, ignore in groups:
        sql, values = _insert_sql(group, ignore_conflicts=ignore)
        parts.append(sql)
        params += values
    *first, last = parts
    statement = ("WITH " + ", ".join(f"w{i} AS ({sql})" for i, sql in enumerate(first)) + " " if first else "") + last
    _execute(statement, params)
    for group, _ignore in groups:
        for row in group:
            row._state.adding = False
            row._state.db = connection.alias


# A report's statement, with its %s placeholders -> with PostgreSQL's ($1, $2, ...). The
# shapes are few (a channel's rows, with or without a message and receipts); the bound
# only guards against a caller that makes a new one each time.
_numbered_statements: dict[str, str] = {}
MAX_NUMBERED_STATEMENTS = 64
_PLACEHOLDER = re.compile(r"%[s%]")


def _numbered(statement: str) -> str:
    numbers = itertools.count(1)
    return _PLACEHOLDER.sub(lambda m: f"${next(numbers)}" if m.group() == "%s" else "%", statement)


def _execute(statement: str, params: list) -> None:
    """Run the statement, its placeholders numbered once per statement.

    psycopg rewrites %s placeholders for PostgreSQL at every execution, remembering the
    rewrite only for statements of at most 50 parameters; a report's has about 80, and
    the rewrite cost 0.3 ms of CPU a report. With parameters bound by the server
    (`server_side_binding`), a raw cursor takes the numbered statement as it is.
    """
    raw_cursor = getattr(connection.Database, "RawCursor", None)
    # The query log (DEBUG, tests capturing queries) writes out %s statements only.
    if (raw_cursor is None or connection.queries_logged
            or not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")):
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
        return
    numbered = _numbered_statements.get(statement)
    if numbered is None:
        numbered = _numbered(statement)
        if len(_numbered_statements) < MAX_NUMBERED_STATEMENTS:
            _numbered_statements[statement] = numbered
    connection.ensure_connection()
    connection.validate_thread_sharing()
    # In Django's wrapper, as connection.cursor() gives it: Django's errors, execute wrappers.
    with connection.make_cursor(raw_cursor(connection.connection)) as cursor:
        cursor.execute(numbered, params)
