"""External data syncs: a source is paged through, mapped with polars, upserted per batch.

- spec.py     what one kind of source is (query, paths, field mapping, target table)
- sources.py  the registry of specs and each tenant's configured sources and schedules
- runner.py   one sync run: claim, page, map, upsert, advance the high-water mark
- jobs.py     the run as a background job, and the schedule hook
"""
