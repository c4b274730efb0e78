"""The Prefect shell around the ``data_processor`` engine: flows, tasks, deployments' entry points, alerts.

Only this package imports Prefect; the engine runs and tests without it.
"""
