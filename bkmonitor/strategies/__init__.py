"""Strategy domain glue: the JSON shape, writes, the change signal and the export for consumers."""
