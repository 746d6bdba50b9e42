"""Clients of the services the pipeline talks to: Triton (``triton``, inference) and Milvus
(``milvus``, the vector index). Both classify failures into "unavailable, retry" and "wrong,
give up"."""
