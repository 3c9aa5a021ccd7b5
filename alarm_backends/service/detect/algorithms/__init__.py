"""One module per algorithm family; each parses its config into a frozen spec
that lists the history it reads and compiles into a `Detector`."""
