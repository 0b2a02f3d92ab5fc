"""Automation: rules that turn business events into planned messages (issue 9, section 3).

models (rules, steps, runs, planned steps), validation (save-time checks), timing (when a
step is due), engine (matching, planning, supersession, the last check before sending),
loading (YAML in seed 002's shape and the product's own), tasks (django-q2 entry points).
"""
