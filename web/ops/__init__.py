"""Operations: the health of the dependencies, as a page for operators and an open API."""
