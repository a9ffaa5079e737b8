"""Statements for the scan path: built once with SQLAlchemy Core, run on the driver.

A scan's transaction sends about eight short statements. Through SQLAlchemy's execution
layer each one costs about 15 µs of Python over the 2 µs SQLite itself takes, and through
the ORM about 50 µs: on a Put confirm that overhead was most of the request. So the scan
path's statements are compiled once per dialect from Core (SQLAlchemy still writes the SQL;
every value is a bound parameter) and executed on the DBAPI cursor of the session's own
connection, inside the session's transaction. What the execution layer did that matters is
kept:

* values go through the column types' bind and result processors (dates, booleans);
* engine events still see every statement (``before_cursor_execute`` /
  ``after_cursor_execute``: statement counters and logging keep working; listeners observe,
  they cannot rewrite the statement);
* driver errors come out as SQLAlchemy's exceptions (``IntegrityError``,
  ``OperationalError``, …), and a lost connection is invalidated as the pool expects.
"""

from __future__ import annotations

from sqlalchemy import Connection, Select, exc
from sqlalchemy.orm import Session

# Where lotline.db.write_transaction keeps its transaction's Connection while it is open:
# asking the session for it again (session.connection()) costs ~12 µs of ORM bookkeeping, as
# much as the statement itself on SQLite, and a scan's transaction sends six to ten.
TX_CONNECTION = "lotline.tx_connection"


class _Compiled:
    __slots__ = ("sql", "names", "required", "defaults", "binds", "results", "returns_rows")

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.names = list(compiled.positiontup) if compiled.positional else None
        self.required = frozenset(name for name, bind in compiled.binds.items() if bind.required)
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items()
                         if not bind.required}
        self.binds = {name: processor for name, bind in compiled.binds.items()
                      if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        if isinstance(statement, Select):
            columns = list(statement.selected_columns)
        else:  # INSERT/UPDATE/DELETE: its RETURNING columns, if any; none for plain text
            columns = list(getattr(statement, "exported_columns", ())) or None
        self.returns_rows = columns is not None
        self.results = None
        if columns is not None:
            processors = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                          for c in columns]
            if any(processors):
                self.results = processors

    def parameters(self, params: dict):
        if not self.required <= params.keys():
            raise KeyError(f"no value for {sorted(self.required - params.keys())}")
        values = {**self.defaults, **params} if self.defaults else params
        if self.binds:
            values = {name: (self.binds[name](v) if name in self.binds else v)
                      for name, v in values.items()}
        if self.names is not None:
            return tuple(values[name] for name in self.names)
        return values

    def row(self, raw: tuple) -> tuple:
        if self.results is None:
            return raw
        return tuple(p(v) if p else v for p, v in zip(self.results, raw, strict=True))


class Prepared:
    """One Core statement, compiled on first use per database dialect."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[tuple, _Compiled] = {}

    def _for(self, dialect) -> _Compiled:
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled(self.statement, dialect)
        return compiled

    def execute(self, session: Session, params: dict | None = None) -> list[tuple]:
        """Run it in the session's transaction; the rows it returns (none for a write)."""
        connection = session.info.get(TX_CONNECTION)
        return self.run(connection if connection is not None else session.connection(), params)

    def run(self, connection: Connection, params: dict | None = None) -> list[tuple]:
        """Run it on ``connection`` (a SQLAlchemy Connection, in whatever transaction it is)."""
        dialect = connection.dialect
        compiled = self._for(dialect)
        args = compiled.parameters(params or {})
        dbapi_connection = connection.connection.dbapi_connection
        cursor = dbapi_connection.cursor()
        dispatch = connection.dispatch
        try:
            if dispatch.before_cursor_execute:
                for listener in dispatch.before_cursor_execute:
                    listener(connection, cursor, compiled.sql, args, None, False)
            cursor.execute(compiled.sql, args)
            rows = cursor.fetchall() if compiled.returns_rows else []
            cursor.close()
            if dispatch.after_cursor_execute:
                for listener in dispatch.after_cursor_execute:
                    listener(connection, cursor, compiled.sql, args, None, False)
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)  # the pool replaces it; the cursor went with it
            else:
                cursor.close()
            raise exc.DBAPIError.instance(
                compiled.sql, args, error, dialect.loaded_dbapi.Error,
                connection_invalidated=lost, dialect=dialect) from error
        return [compiled.row(r) for r in rows] if compiled.results else rows

    def first(self, session: Session, params: dict | None = None) -> tuple | None:
        rows = self.execute(session, params)
        return rows[0] if rows else None

    def first_on(self, connection: Connection, params: dict | None = None) -> tuple | None:
        rows = self.run(connection, params)
        return rows[0] if rows else None
