"""What every Triton ``model.py`` shares, so that each one only loads its model and runs it.

- ``batching``: the contract (gather the requests, one forward pass, one response each) and
  the checks of the ``IMAGE``, ``TEXT`` and ``FRAMES`` inputs;
- ``adapter``: the base classes of the ``TritonPythonModel``s (config parsing, refusals,
  responses, padded boxes).

No Triton import here (``model.py`` hands over ``pb_utils``): it is unit-tested without a server.
"""
