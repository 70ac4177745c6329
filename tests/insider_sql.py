"""What the operator who holds the store's files can do without any key: run SQL on the
gallery (``gallery.db``, or the PostgreSQL tables of a home on a database)."""

from __future__ import annotations

import sqlite3

import psycopg

from faceaudit.base.home import Home


def insider_sql(home: Home, statement: str, *args: object) -> None:
    """Run ``statement`` (``?`` placeholders) on the home's gallery store, outside faceaudit."""
    url = home.database_url_in_force()
    if url is None:
        with sqlite3.connect(home.db_path) as db:
            db.execute(statement, args)
        return
    with psycopg.connect(url) as db:
        db.execute(statement.replace("?", "%s"), args)
