"""The ``clip`` profile's models: CLIP (concepts, image and text embeddings) and BLIP (captions).

- ``encoder``: CLIP's towers, ``image_concepts`` and ``text_embedding`` under this profile;
- ``captioner``: BLIP captions grounded phrase by phrase with CLIP (``caption``);
- ``weights``: placing CLIP and BLIP in a repository and encoding its concept bank.

Used only in the models' environment (torch + transformers), by the adapters in
``model_repository_clip/`` and by ``infra/bin/fetch-clip-weights``. Nothing in the default
(``offline``) path imports this package.

Everything loads from a local directory (``local_files_only=True``, ``HF_HUB_OFFLINE``): the
real weights are placed by ``infra/bin/fetch-clip-weights``; the tests place tiny random
configurations (tests/support/clip_tiny.py) through the same loading code.
No transformers image processor is used (they want torchvision or PIL pipelines): images are
resized and normalised here, in torch, from the ``image_mean``/``image_std`` of the model's
``preprocessor_config.json`` when it is there, else CLIP's published statistics.

Same Triton contracts as the offline profile where the model exists (docs/contracts.md,
docs/clip-profile.md):
  leaves, whose names CLIP's text tower encoded at prepare time (``concept_bank.npz`` next to
  the weights, same rows as the offline bank, CLIP text embeddings instead of MiniLM ones);
  ``POOLED_FEATURES`` = the unit-length image embedding; ``CAMS[k](h, w) = s · cos(patch(h, w),
  text_k)`` on the ViT patch grid (7 × 7 for ViT-B/32 at 224) and ``CAM_BIAS[k] = logit_k −
  mean(CAMS[k])``. **For CLIP the map is a text-to-patch similarity map, not a decomposition of
  the score**: the bias is chosen so that ``mean(CAM) + bias == logit`` holds exactly, which
  keeps the contract's arithmetic, but the bias is not a classifier bias and the map does not
  add up to the logit the way MobileNetV2's CAM does.
- ``text_embedding``: the unit-length CLIP text embedding (``projection_dim``; 512 for B/32).
- ``caption`` (new): a BLIP caption, split into noun phrases; each phrase gets a CLIP
  text-to-patch similarity map and a grounded flag (max patch similarity ≥ a threshold).
"""
