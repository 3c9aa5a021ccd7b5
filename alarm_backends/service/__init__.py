"""Alarm pipeline services (detect, trigger, ...), one package per stage."""
