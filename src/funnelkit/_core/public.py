"""Public homes: an error names the module users import it from, not the one defining it.

Tracebacks, ``repr(type(err))`` and pickles then say ``funnelkit.InvalidInput`` rather than
``funnelkit._core.errors.InvalidInput``, as pluggy's and pytest's warnings and errors do.  The
module defining the errors calls :func:`public_home` once they are defined, so the home is the same
whichever module was imported first.

Only errors move.  Sphinx's autodoc reads a class's member order, attribute comments and
annotations from the module its ``__module__`` names, and ``typing.get_type_hints`` and
``inspect.getsource`` look there too: for the value and protocol classes, which have documented
members and annotations, a public ``__module__`` would cost more than it shows.
"""

from __future__ import annotations

from types import FunctionType

__all__ = ["public_home"]


def public_home(module: str, *classes: type) -> None:
    """Make *module* the ``__module__`` of each of *classes* and of the functions in their bodies.

    The functions move with their class so that tools which look for a class's members in its
    module, such as :mod:`doctest`, find them where they find the class.  *module* must export
    every one of *classes* under its own name, or pickling them fails.

    >>> class Example:
    ...     def method(self) -> None: ...
    >>> public_home("funnelkit", Example)
    >>> Example.__module__, Example.method.__module__
    ('funnelkit', 'funnelkit')
    """
    for cls in classes:
        prefix = f"{cls.__qualname__}."
        for value in vars(cls).values():
            function = value.__func__ if isinstance(value, staticmethod | classmethod) else value
            if isinstance(function, FunctionType) and function.__qualname__.startswith(prefix):
                function.__module__ = module
        cls.__module__ = module
