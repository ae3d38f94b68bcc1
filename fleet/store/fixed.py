"""The store's hottest statements, compiled once and run on the DBAPI cursor of the caller's connection.

A simulated day writes tens of thousands of small fixed statements (the audit head read before each append,
the appends, the customs events, the duplicates' look-up, order transitions). SQLAlchemy's ``execute`` costs
ten times what running one of them in SQLite does (profiled: about 15 µs against 1.5), all of it per call:
looking the compiled form up, processing parameters and results, events. A :class:`FixedStatement` does that
once per dialect and then hands the driver the SQL text and the parameters, on the same connection and in the
same transaction, so what is written is the same. It runs with SQLAlchemy's own bind processors (a JSON
column's serializer, say); a statement whose results would need processing is refused when compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler

Parameters = Mapping[str, Any]


class _Compiled:
    """A statement's text for one dialect, with how to turn named values into the driver's parameters."""

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect, column_keys: Sequence[str] | None) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=column_keys))
        for column in getattr(statement, "selected_columns", ()):
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                raise TypeError(f"{column} needs its results processed: run it through SQLAlchemy's execute")
        self.text: str = compiled.string
        self.names: tuple[str, ...] | None = tuple(compiled.positiontup) if compiled.positional else None  # type: ignore[arg-type]
        binds = {name: bind for bind, name in compiled.bind_names.items()}  # by the names in the text
        processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in binds.items()}
        self.processors: dict[str, Callable[[Any], Any]] = {n: p for n, p in processors.items() if p is not None}
        #: the values the statement carries itself (a LIMIT's, say)
        self.own = {name: bind.value for name, bind in binds.items() if not bind.required}

    def parameters(self, values: Parameters) -> Sequence[Any] | Parameters:
        if self.own:
            values = {**self.own, **values}
        if self.processors:
            values = {**values, **{name: process(values[name]) for name, process in self.processors.items()
                                   if name in values}}
        return values if self.names is None else tuple(map(values.__getitem__, self.names))


class FixedStatement:
    """A Core statement (its values all bound parameters) run often: compiled once per dialect, then run on the
    DBAPI cursor. ``column_keys``: the columns an INSERT or UPDATE sets, each from the parameter of its name."""

    def __init__(self, statement: sa.ClauseElement, column_keys: Sequence[str] | None = None) -> None:
        self.statement, self.column_keys = statement, column_keys
        self._compiled: dict[str, _Compiled] = {}

    def _for(self, conn: Connection) -> _Compiled:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = _Compiled(self.statement, conn.dialect, self.column_keys)
        return compiled

    def rows(self, conn: Connection, values: Parameters | None = None) -> list[Any]:
        """Run it once with ``values``; the rows it returned (as the driver's tuples), if any."""
        compiled = self._for(conn)
        return run_on_cursor(conn, compiled.text, compiled.parameters(values or {}))

    def many(self, conn: Connection, rows: Sequence[Parameters]) -> None:
        """Run it once per row of ``rows`` (the driver's executemany)."""
        if rows:
            compiled = self._for(conn)
            run_on_cursor(conn, compiled.text, [compiled.parameters(row) for row in rows], many=True)


def run_on_cursor(conn: Connection, text: str, parameters: Any = (), many: bool = False) -> list[Any]:
    """Run SQL ``text`` on the DBAPI cursor of ``conn`` (in its transaction); the rows, if it returns any. A
    driver's error is raised as SQLAlchemy's execute raises it (``sa.exc.OperationalError`` for a locked file
    or a lost server, which :meth:`Store.transaction` turns into a ``StoreError``); the transaction's rollback
    then goes through SQLAlchemy, which invalidates a lost connection."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        if many:
            cursor.executemany(text, parameters)
        else:
            cursor.execute(text, parameters)
        return list(cursor.fetchall()) if cursor.description else []
    except dbapi_error as exc:
        raise sa.exc.DBAPIError.instance(text, parameters, exc, dbapi_error, dialect=conn.dialect) from exc
    finally:
        cursor.close()
