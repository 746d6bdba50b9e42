"""The explanation maths, below analysis and retrieval (numpy + Pillow, no Django).

- ``cam``: exact class-activation maps, their evidence box and their rendering;
- ``regions``: region geometry (boxes, unions, relative positions) and the one
  connected-component labelling routine;
- ``caption``: grounded captions, composed from concepts, regions and read text;
- ``english``: the caption's English (articles, plurals, number words, quoted text);
- ``justify``: choosing tags and writing one-line justifications;
- ``faithfulness``: deletion / insertion curves and counterfactuals of a saliency map.
"""
