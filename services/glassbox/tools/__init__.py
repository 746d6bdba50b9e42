"""Command-line tools of the models' environment.

- ``prepare``: places the weights and the concept bank from the packages that carry them;
- ``smoke``: checks a running Triton's models against the same models run locally.
"""
