"""Analytics and data mining: metrics, profiles, churn, basket rules, keywords,
competitor prices and demand forecasts, computed from the bridge's live record.

Heavy work runs in polars over frames read from SQLite/PostgreSQL
(:mod:`.frames`); results are written back as ``analytics_*`` tables that the
admin API reads (:mod:`.api`). Every metric is defined once in :mod:`.metrics`
(formulas in ``docs/metrics.md``).
"""
