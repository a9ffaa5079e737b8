"""Lotline's domain: the models and the lot rules, free of Flask request state.

Views and the JSON API call the functions in this package with plain values and a
SQLAlchemy session; each rule is stated once here (and, where it can be, in the
database itself), so a screen and the API can never disagree.
"""
