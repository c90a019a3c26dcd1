"""The column type of ids and names: ``VARCHAR(255)`` compared byte for byte on every backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["NameField", "binary_collation"]

NAME_LENGTH = 255
"""Characters of an id or a name (the SQL stores' ``VARCHAR(255)``, see
``funnelkit._core.limits``)."""


def binary_collation(connection: BaseDatabaseWrapper) -> str | None:
    """The collation that compares text byte for byte on *connection*'s server (None: the default).

    ``"C"`` on PostgreSQL; the binary ``NO PAD`` collation on MariaDB (``utf8mb4_nopad_bin``) and
    MySQL 8 (``utf8mb4_0900_bin``), where ``utf8mb4_bin`` pads, so ``'K1 '`` would equal ``'K1'``;
    SQLite compares with ``BINARY`` unless told otherwise.  The same collations as the SQL
    stores' schema version 3, so ``SQLAlchemyStore`` accepts the tables Django made.
    """
    vendor = connection.vendor
    if vendor == "postgresql":
        return "C"
    if vendor == "mysql":
        mariadb = getattr(connection, "mysql_is_mariadb", False)
        return "utf8mb4_nopad_bin" if mariadb else "utf8mb4_0900_bin"
    return None


class NameField(models.CharField):  # type: ignore[type-arg]  # django-stubs generics
    """A ``CharField(max_length=255)`` in its server's binary collation (:func:`binary_collation`).

    ``db_collation`` takes one name for every backend; the collation wanted differs per server,
    so it is chosen here when Django writes the DDL.  Foreign keys to a ``NameField`` get the same
    collation (Django copies it from the target field).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """A ``CharField`` of :data:`NAME_LENGTH` characters."""
        kwargs.setdefault("max_length", NAME_LENGTH)
        super().__init__(*args, **kwargs)

    def db_parameters(self, connection: BaseDatabaseWrapper) -> Any:
        """Django's parameters, with the binary collation of *connection*'s server."""
        parameters = super().db_parameters(connection)
        parameters["collation"] = binary_collation(connection)
        return parameters
