"""The evaluation report, ``python -m glassbox.evaluation``: every number in it measured on the
CPU with the in-process models, one module per section.

- ``report``: the command; runs the sections and writes ``README.md``, ``results.json``, plots;
- ``plan``: how much to run (``--quick`` or the full report), the seed, what a run collects;
- ``data``: the judged corpus and boxes (``eval_data/``), the photos, Fashion-MNIST;
- ``models``: MobileNetV2, its concept bank, MiniLM and the SSD object detector in process, in
  place of Triton;
- ``corpus``: the judged corpus analysed before and after the object detector (sections 4, 6);
- ``matching``: whether what a person named is named by the tags, detections and caption;
- ``accuracy`` (1): the concept bottleneck against a black-box linear probe;
- ``faithfulness`` (2): deletion / insertion curves and counterfactual masks of the CAMs;
- ``localisation`` (3): the pointing game;
- ``retrieval`` (4): ConSE retrieval of judged queries and the relevance calibration;
- ``similarity`` (5): find similar and near-duplicates;
- ``objects`` (6): annotation and caption recall, the detector's precision per class, bad input;
- ``plots``: matplotlib without a display.
"""
