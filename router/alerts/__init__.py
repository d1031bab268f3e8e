"""Alerts: webhooks told when a budget, a target's error rate or a cool-down crosses a threshold.

`rules.py` and `message.py` are the pure core (what fires, the body and its signature); `evaluator.py`
reads the numbers and claims firings in the database, `delivery.py` sends them with retries, and
`service.py` runs both as background tasks, off the request path.
"""
