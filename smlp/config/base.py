"""Shared pieces of the config tree."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config section in which a misspelt key is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
