"""Dagster resources: each wraps one external system, is configured per profile in
`build_resources`, and opens connections only when an asset asks for one."""
