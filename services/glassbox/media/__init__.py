"""Media in: upload inspection (type, size and decompression-bomb checks before anything is
decoded), decoding, thumbnails and the models' preprocessing. Video decoding joins here.

- ``imaging``: ``inspect_upload``, ``decode_rgb``, ``model_input``, ``thumbnail_jpeg``.
"""
