"""Finance: a double-entry ledger in integer fen, automatic posting, statements, exports.

See ``docs/finance.md`` for the chart of accounts and what posts what.
"""
