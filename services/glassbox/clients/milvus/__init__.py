"""The vector index of media items, in Milvus (a ``milvus-lite server``, standalone or cluster).

- ``schema``: the collection's fields and indexes, and the row written for an item;
- ``filters``: a search's boolean expression, the privacy rule first;
- ``search``: search hits and the helpers of the search paths (HNSW breadth, exact scoring);
- ``errors``: failures, classified into "unavailable, retry" and "wrong, give up";
- ``connection``: the lazily opened client, its retries and the error translation;
- ``client``: ``MediaIndex``, the index the app writes to and searches, and ``from_settings``.
"""
