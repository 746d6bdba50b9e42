"""Moderation in the web app: flags with their evidence, the review queue, appeals, the
audit trail, and what they do to who sees an item (docs/architecture.md, "A flag, end to
end"). The pages are ``views.py`` and ``templates/``; the rules live in ``states``,
``actions``, ``storing``, ``visibility``, ``precision`` and ``active``."""


def policies_active():
    """The policies in force (``moderation.active.policies_active``), what the worker passes
    to ``glassbox.analysis.pipeline.analyze(policies=...)``."""
    from .active import policies_active as in_force

    return in_force()
