"""Procedure definitions: the JSON Schema they follow, their checks, conditions, fees and
the parsing of answers. Pure logic: no database, no HTTP."""
