"""The `SessionStore` contract: one suite every adapter passes (memory, SQLite, PostgreSQL).

Each group of store methods has its own module over the `store` fixture of conftest.py, which
is parametrized over every adapter; a new group of methods adds a module here.
"""
