"""Glassbox services: domain code for the worker, the web app and the Triton models (no Django)."""
