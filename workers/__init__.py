"""RQ jobs and the pure logic they call: classification, importers, linking, signals."""
