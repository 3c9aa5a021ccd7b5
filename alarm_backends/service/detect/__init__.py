"""Detection algorithms (docs/ARCHITECTURE.md, Semantics: algorithms) as pure functions over plain data.

Nothing in this package imports Django, Redis or the database: a detector is
compiled once from an algorithm dict and then called with a value, the window
start t, the interval and a `History` that answers "value at timestamp".
"""
