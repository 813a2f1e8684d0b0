"""HTTP layer: Starlette routes emulating Salesforce endpoints (see app.build_app)."""
