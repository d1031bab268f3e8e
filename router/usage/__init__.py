"""Usage: per-request accounting (accounting.py), the recorder that writes it off the request path
(recorder.py), and limits and budgets (limits*.py). The row type and the queries are the store's."""
