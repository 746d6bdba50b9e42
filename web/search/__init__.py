"""The search app: explained text search, "find similar" and query by image, as a page and an API.

- ``params``: the request parameters (query, paging, sort, weaker, filters), checked;
- ``records``: rows hydrated into ``glassbox.retrieval.records`` records;
- ``engine``: the orchestration (Triton, Milvus, hydration, scoring, heat-map URLs);
- ``embeddings``: the query texts' vectors, cached per process and model version;
- ``views`` (the page) and ``api/`` (the REST endpoints).

Scoring and explanation live in ``glassbox.retrieval`` and work on plain records.
"""
