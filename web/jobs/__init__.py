"""Jobs leave the web app through a transactional outbox (``outbox``): a row written in the
same database transaction as the change it follows, then sent to the broker by id."""
