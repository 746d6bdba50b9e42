"""The smoke check: a running Triton's models against the same models run locally.

    python -m glassbox.tools.smoke MODEL [--url 127.0.0.1:8100]      (in .venv-models)

MODEL is ``image_concepts``, ``text_embedding``, ``ocr``, ``nsfw_detector``,
``object_detection``, ``shot_boundaries`` or ``all``.
``checks`` holds one check per model, ``images`` the images they send (also what the tests
use to make an image with known text, or a clip with one cut). It prints a short report and
exits non-zero on any mismatch (1) or when Triton cannot be reached (2).
"""
