"""The store tests run against the real servers of ``tests/_servers.py``."""

from _servers import Server, mariadb, postgres, server

__all__ = ["Server", "mariadb", "postgres", "server"]
