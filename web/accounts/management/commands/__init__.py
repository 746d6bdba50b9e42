"""``manage.py seed_demo``: the demo users and sample photos."""
