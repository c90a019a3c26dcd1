"""Sphinx configuration for funnelkit's documentation (Markdown pages through myst-parser)."""

from __future__ import annotations

import funnelkit

project = "funnelkit"
author = "The funnelkit developers"
copyright = "2026, The funnelkit developers"
release = funnelkit.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
nitpicky = False
suppress_warnings = ["myst.xref_missing"]

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
html_theme = "alabaster"
html_title = "funnelkit"
