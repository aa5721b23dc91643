"""What every part of the verdict is made of: strict typed sections and number types.

Shared by `verdict.py` and the modules that add a section to it (e.g. `fault_report.py`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# Locust's percentiles are whole milliseconds below 100 ms and floats above; keep
# each as Locust gave it, so the JSON says 9, not 9.0.
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
Ratio = Annotated[int | float, Field(ge=0, le=1),
                  WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})]


class Section(BaseModel):
    # Every key is always written (null when unset): CI parsers never guess whether one exists.
    # Unknown keys are ignored, not refused, so a reader (and the published schema) of one
    # version accepts the verdicts of later ones, which only ever add keys.
    model_config = ConfigDict(extra="ignore", frozen=True,
                              json_schema_serialization_defaults_required=True)
