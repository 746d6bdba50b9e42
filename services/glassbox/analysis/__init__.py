"""The analysis of one image: an ordered list of named, timed steps that turns the models'
outputs into an ``Analysis`` with its evidence.

- ``pipeline``: ``analyze`` (runs the steps, times them) and the ``Analysis`` it returns;
- ``steps``: the steps in order (``STEPS``): decode, concepts, read text, nudity detector,
  scores, caption, text terms, semantic vector, tags, regions, justifications,
  faithfulness, heat maps; then ``MODERATION``, the policies over the finished analysis;
- ``state``: the per-image ``ImageState`` the steps fill in and the ``Step`` record;
- ``flags``: the moderation step (policies, evidence, counterfactuals of the hits);
- ``evidence``: tag evidence (leaf and broader tags, regions, justifications,
  faithfulness) and ``heatmap_for``;
- ``protocols``: what the steps need from the models and the concept hierarchy.
"""
