"""Search maths on plain records, no Django:

- ``conse``: the ConSE semantic vector and its exact decomposition into contributions;
- ``relevance``: calibrated per-channel relevance and its fitting;
- ``lexical``: the words and stems of the caption and read-text channels;
- ``records``: the plain records searched (an item, a "find similar" source);
- ``scoring``: scoring candidates, the cut-off, the order and near-duplicate grouping;
- ``explanation``: why each result matched (contributions, channels, words, sentences).
"""
