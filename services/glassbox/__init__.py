"""Glassbox services: domain code shared by the worker, the web app and the Triton models (no Django)."""
