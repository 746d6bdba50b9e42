"""Moderation that explains itself: policies, their signals, and the flags they raise.

- ``policies``: ``Policy`` and ``Signal``, read from one TOML file (``policies.toml`` by
  default, ``GLASSBOX_MODERATION_POLICIES`` to override) or from their JSON form, validated
  (``PolicyError`` names the file, the policy and the field); ``default_policies``;
- ``patterns``: personal data and other patterns in read text (phone numbers, e-mail
  addresses, card-like numbers with the Luhn check, regular expressions, word lists);
- ``flags``: a policy's score and evidence on what an analysis saw, the rule in words, the
  counterfactual record (``glassbox.analysis.flags`` runs them in the analysis);
- ``search_filter``: the explicit-nudity search filter the web indexes (``flagging``,
  ``is_flagged``);
- ``samples``: a rendered contact card that the ``personal-data`` policy flags (demo, tests).

Stdlib, the COCO labels and the concept bank only: the models are the analysis's business.
"""

from glassbox.moderation.flags import Evidence, FlagHit, Observation, evaluate, score_policy
from glassbox.moderation.policies import (
    Policy,
    PolicyError,
    Signal,
    default_policies,
    load_policies,
    policy_from_dict,
)
from glassbox.moderation.search_filter import FLAGGING_LABELS, flagging, is_flagged

__all__ = [
    "FLAGGING_LABELS",
    "Evidence",
    "FlagHit",
    "Observation",
    "Policy",
    "PolicyError",
    "Signal",
    "default_policies",
    "evaluate",
    "flagging",
    "is_flagged",
    "load_policies",
    "policy_from_dict",
    "score_policy",
]
