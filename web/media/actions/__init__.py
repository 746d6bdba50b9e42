"""Every side-effecting write on media lives here; views and tasks stay thin.

- ``commands``: what a user asks for: upload (create), delete, change visibility, retry;
- ``lifecycle``: the worker's side of an item: claim it, record its analysis, mark it
  indexed or failed;
- ``persistence``: an ``Analysis`` of the services written into rows (tags, the semantic
  profile, the evidence fields of the item).

Jobs are queued by task name through ``glassbox_web.queue``; nothing here imports the tasks.
"""
