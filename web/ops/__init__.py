"""Operations: the health of the dependencies: a page and an API view for operators, and an
open up-or-down endpoint for probes."""
