"""Generic building blocks with no web imports: usable from routes, jobs and the CLI."""
