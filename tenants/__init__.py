"""The data layer: host catalog, tenant database routing, provisioning and migrations.

Nothing here imports `app/`; it takes URLs and sizes as arguments so it can be used from
the web app, the CLI and background jobs alike.
"""
