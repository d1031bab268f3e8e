"""Rules + request facts -> ordered targets, and why. Pure: no database, no web framework, no LiteLLM.

Import from the modules themselves (router.routing.resolve, .explain, .errors, .model...): the package
imports none of them, so that reading one small module (the CLI's budget windows) does not load the
resolver and the explainer too.
"""
