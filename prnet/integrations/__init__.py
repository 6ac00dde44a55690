"""Adapters that let other toolkits run prnet models. Each imports its toolkit itself, only when
used: ``prnet.integrations.sahi`` (SAHI's ``DetectionModel``)."""
