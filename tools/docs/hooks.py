"""MkDocs hooks: the reference pages, generated from the code at build time."""
